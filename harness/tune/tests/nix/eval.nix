# Evaluates flake.nix's outputs against stub inputs (stub-pkgs.nix): checks the flake
# evaluates and reports what the devShell, package, app and checks consist of, with no
# Nix store or network. Used by harness/tune/tests/flake.rs.
{ flake }:
let
  f = import flake;
  nixpkgs = { outPath = ./stub-pkgs.nix; lib = import ./stub-lib.nix; };
  rust-overlay = { overlays.default = final: prev: { }; };
  out = f.outputs { self = { }; inherit nixpkgs rust-overlay; };
  sys = "x86_64-linux";
  pkgNames = l: map (p: p.name) l;
in {
  outputs = builtins.attrNames out;
  systems = builtins.attrNames out.devShells;
  devShell = pkgNames out.devShells.${sys}.default.args.packages;
  devShellDarwin = pkgNames out.devShells.aarch64-darwin.default.args.packages;
  python = (builtins.elemAt (builtins.filter (p: p.name == "python3") out.devShells.${sys}.default.args.packages) 0).pythonPackages;
  rustExtensions = (builtins.elemAt out.devShells.${sys}.default.args.packages 0).extensions;
  package = out.packages.${sys}.default.name;
  cargoLock = toString out.packages.${sys}.default.args.cargoLock.lockFile;
  cargoTestFlags = out.packages.${sys}.default.args.cargoTestFlags;
  app = out.apps.${sys}.default.program;
  checks = builtins.attrNames out.checks.${sys};
}
