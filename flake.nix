{
  description = "backproof: reference implementation and conformance suite for client-side-encrypted cloud backups";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs";
    rust-overlay = {
      url = "github:oxalica/rust-overlay";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs = { self, nixpkgs, rust-overlay }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f (import nixpkgs {
        inherit system;
        overlays = [ rust-overlay.overlays.default ];
      }));
      rustFor = pkgs: pkgs.rust-bin.stable."1.95.0".default.override {
        extensions = [ "rustfmt" "clippy" "rust-src" ];
      };
      # The Python the crosscheck and the example adapter use (ci/crosscheck/requirements.txt).
      pythonFor = pkgs: pkgs.python3.withPackages (ps: [ ps.cryptography ps.argon2-cffi ]);
      # What README and .ci/run rely on; harness/tune/tests/flake.rs checks this list.
      devTools = pkgs: [
        (rustFor pkgs)
        pkgs.cargo-nextest
        pkgs.cargo-insta
        pkgs.postgresql_15
        pkgs.minio
        pkgs.minio-client
        pkgs.libargon2
        pkgs.openssl
        (pythonFor pkgs)
        pkgs.nodejs
        pkgs.pkg-config
      ] ++ pkgs.lib.optionals pkgs.stdenv.isLinux [
        # The HTML report's browser test and the JUnit schema check (Linux-only packages).
        pkgs.chromium
        pkgs.libxml2
      ];
      backproofFor = pkgs:
        let
          rust = rustFor pkgs;
          rustPlatform = pkgs.makeRustPlatform { cargo = rust; rustc = rust; };
        in
        rustPlatform.buildRustPackage {
          pname = "backproof";
          version = "0.1.0";
          src = ./.;
          cargoLock.lockFile = ./Cargo.lock;
          cargoBuildFlags = [ "-p" "backproof" ];
          # The test suite starts a throwaway Postgres (initdb/pg_ctl from postgresql_15) and the
          # embedded S3 server on 127.0.0.1, both inside the build sandbox; no network needed.
          nativeCheckInputs = [ pkgs.postgresql_15 (pythonFor pkgs) pkgs.openssl ];
          cargoTestFlags = [ "--workspace" "--all-features" ];
          preCheck = ''
            export HOME=$TMPDIR
          '';
          meta = {
            description = "Conformance suite for client-side-encrypted cloud backups";
            license = with pkgs.lib.licenses; [ mit asl20 ];
            mainProgram = "backproof";
          };
        };
    in
    {
      packages = forAllSystems (pkgs: {
        default = backproofFor pkgs;
        backproof = backproofFor pkgs;
      });

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = "${backproofFor pkgs}/bin/backproof";
        };
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = devTools pkgs;
          shellHook = ''
            export RUST_BACKTRACE=1
          '';
        };
      });

      # `nix flake check`: the package builds and its check phase runs the whole test suite
      # (doCheck is on by default for buildRustPackage).
      checks = forAllSystems (pkgs: {
        build = backproofFor pkgs;
        fmt = pkgs.runCommand "backproof-fmt" { nativeBuildInputs = [ (rustFor pkgs) ]; } ''
          cd ${./.}
          cargo fmt --all -- --check
          touch $out
        '';
      });
    };
}
