# A stand-in for nixpkgs that records what the flake asks of it: enough to evaluate the
# flake's outputs without a Nix store or network (harness/tune/tests/flake.rs).
{ system, overlays ? [ ] }:
let
  pkg = name: { inherit name; outPath = "/nix/store/stub-${name}"; type = "derivation"; };
  names = [ "cargo-nextest" "cargo-insta" "postgresql_15" "minio" "minio-client" "libargon2"
            "openssl" "nodejs" "pkg-config" "chromium" "libxml2" ];
  base = builtins.listToAttrs (map (n: { name = n; value = pkg n; }) names);
in
base // {
  inherit system;
  stdenv.isLinux = builtins.match ".*-linux" system != null;
  lib = import ./stub-lib.nix;
  rust-bin.stable = builtins.listToAttrs [{
    name = "1.95.0";
    value.default.override = args: pkg "rust-1.95.0" // { extensions = args.extensions; };
  }];
  python3.withPackages = f: pkg "python3" // {
    pythonPackages = map (p: p.name) (f { cryptography = pkg "cryptography"; argon2-cffi = pkg "argon2-cffi"; });
  };
  makeRustPlatform = { cargo, rustc }: {
    buildRustPackage = args: pkg "${args.pname}-${args.version}" // { inherit args; };
  };
  mkShell = args: pkg "shell" // { inherit args; };
  runCommand = name: env: script: pkg name;
}
