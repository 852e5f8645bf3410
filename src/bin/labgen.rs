//! `labgen`: writes labs/ from solutions/ (`make labs`), or checks that they match (`make check-labs`).
use socklab::blanks;
use socklab::cli::{self, Options};
use std::path::Path;
use std::process::exit;

fn main() {
    let mut opts = Options::new();
    opts.optflag(
        "",
        "check",
        "only report where labs/ differs from what solutions/ generates",
    );
    opts.optflag(
        "",
        "force",
        "overwrite lab files even where someone changed them",
    );
    let args = cli::parse(opts, "Usage: labgen [--check | --force]");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (solutions, labs) = (root.join("solutions"), root.join("labs"));
    if args.flag("check") {
        match blanks::check(&solutions, &labs) {
            Ok(problems) if problems.is_empty() => println!("labs/ matches solutions/"),
            Ok(problems) => {
                for p in problems {
                    eprintln!("{p}");
                }
                eprintln!("run `make labs` to regenerate labs/ from solutions/");
                exit(1);
            }
            Err(e) => {
                eprintln!("labgen: {e}");
                exit(1);
            }
        }
        return;
    }
    match blanks::generate(&solutions, &labs, args.flag("force")) {
        Ok(done) => {
            for line in &done {
                println!("{line}");
            }
            println!("labs/ is up to date ({} file(s) written)", done.len());
        }
        Err(problems) => {
            for p in problems {
                eprintln!("{p}");
            }
            exit(1);
        }
    }
}
