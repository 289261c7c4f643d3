{
  genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
  optionals = cond: list: if cond then list else [ ];
  licenses = { mit = "MIT"; asl20 = "Apache-2.0"; };
}
