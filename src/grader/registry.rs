//! `make check-labs`, second half: the lab registry (`src/bin/socklab/labs.rs`) against the files on
//! disk. Each problem is one sentence naming the file to add or fix, so a lab that is half
//! added fails here, not in front of a student.

use super::Lab;
use crate::answers;
use std::path::Path;

/// The most lines a lesson file (a program file with blanks) may have.
pub const LESSON_LINES: usize = 400;

/// Every mismatch between `labs` and the kit at `root`.
pub fn problems(root: &Path, labs: &[Lab]) -> Vec<String> {
    let mut out = Vec::new();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap_or_default();
    for lab in labs {
        let name = lab.name;
        if !root
            .join("solutions")
            .join(name)
            .join("README.md")
            .is_file()
        {
            out.push(format!(
                "lab {name}: no handout; add solutions/{name}/README.md (then `make labs`)"
            ));
        }
        if !readme.contains(&format!("| `{name}` |")) {
            out.push(format!(
                "lab {name}: README.md's lab table has no row for it; add `| `{name}` | programs | handout |`"
            ));
        }
        for check in &lab.checks {
            if super::rust_words(check.hint) || super::rust_words(check.name) {
                out.push(format!(
                    "lab {name}: check \"{}\": its name or hint shows Rust's spelling of a value \
                     (Some(…), None, Err(…)); say it in words",
                    check.name
                ));
            }
            for need in check.needs {
                if !lab.checks.iter().any(|c| c.name == *need) {
                    out.push(format!(
                        "lab {name}: check \"{}\" needs \"{need}\", but the lab has no check of that name",
                        check.name
                    ));
                }
            }
        }
        // A lesson file (one with blanks) must be readable in one sitting.
        if let Ok(entries) = std::fs::read_dir(root.join("solutions").join(name)) {
            for path in entries.flatten().map(|e| e.path()) {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let lines = text.lines().count();
                let lesson = path.extension().is_some_and(|x| x == "rs")
                    && crate::blanks::blank_regions(&text).is_ok_and(|r| !r.is_empty());
                if lesson && lines > LESSON_LINES {
                    out.push(format!(
                        "solutions/{name}/{}: {lines} lines; a lesson file stays at {LESSON_LINES} \
                         or fewer: move given code into a given file beside it (#[path] mod)",
                        path.file_name().unwrap_or_default().to_string_lossy()
                    ));
                }
            }
        }
        let answers_file = root.join("solutions").join(name).join(answers::FILE);
        match (lab.questions, answers_file.is_file()) {
            (None, false) => {}
            (None, true) => out.push(format!(
                "lab {name} has no questions on captures, but solutions/{name}/{} exists: \
                 delete it, or give the lab its questions with Lab::questions",
                answers::FILE
            )),
            (Some(_), false) => out.push(format!(
                "lab {name} has questions on captures; add solutions/{name}/{} with a \
                 commented `key =` entry for each",
                answers::FILE
            )),
            (Some(set), true) => {
                let text = std::fs::read_to_string(&answers_file).unwrap_or_default();
                match answers::parse_file(&text) {
                    Err(e) => out.push(format!("solutions/{name}/{e}")),
                    Ok(keys) => {
                        for q in set.questions {
                            if !keys.contains_key(q.key) {
                                out.push(format!(
                                    "solutions/{name}/{}: no `{} =` entry for the question \"{}\"",
                                    answers::FILE,
                                    q.key,
                                    q.title
                                ));
                            }
                        }
                        for key in keys.keys() {
                            if !set.questions.iter().any(|q| q.key == key) {
                                out.push(format!(
                                    "solutions/{name}/{}: `{key} =` is no question of the lab \
                                     (a typo, or a question removed from its checks?)",
                                    answers::FILE
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    // A lab's folder that the registry does not list is never graded.
    for (dir, what) in [
        ("solutions", "solutions/{}/"),
        ("tests", "tests/{}/checks/"),
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let folder = what.replace("{}", &name);
            if root.join(&folder).is_dir() && !labs.iter().any(|l| l.name == name) {
                out.push(format!(
                    "{folder} belongs to no lab of the registry: add `{} in \"../../../tests/{name}/checks/mod.rs\",` \
                     to src/bin/socklab/labs.rs (socklab new-lab writes a whole lab)",
                    crate::lab_files::module(&name)
                ));
            }
        }
    }
    // Each program's src/bin file and the benchmarks' dispatcher follow from the registry.
    out.extend(crate::lab_files::problems(root, labs));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::{Answer, Form, Question, QuestionSet};

    static QUESTIONS: QuestionSet = QuestionSet {
        milestone: "9 questions",
        salt: "test",
        captures: &[],
        questions: &[Question {
            key: "port",
            capture: "demo",
            title: "the server's port",
            text: "Which port?",
            form: Form::Integer,
            answer: Answer::Capture(|_| Ok(1.0)),
            hint: "",
        }],
        scenario: |_| Ok(()),
    };

    /// A kit at a fresh temporary folder with one complete lab `demo` (program `demo_server`).
    fn kit() -> (PathBuf, Vec<Lab>) {
        let root = std::env::temp_dir().join(format!(
            "socklab-registry-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("README.md", "| lab |\n| `demo` | demo_server | … |\n");
        write("solutions/demo/README.md", "# demo\n");
        write("solutions/demo/answers.txt", "# Which port?\nport =\n");
        let lab = Lab::new("demo", "Demo", &["demo_server"]).questions(&QUESTIONS);
        crate::lab_files::write(&root, std::slice::from_ref(&lab)).unwrap();
        (root, vec![lab])
    }

    use std::path::PathBuf;

    #[test]
    fn a_complete_lab_has_no_problems() {
        let (root, labs) = kit();
        assert_eq!(problems(&root, &labs), Vec::<String>::new());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn each_missing_file_is_named_in_a_sentence() {
        for (remove, says) in [
            (
                "src/bin/demo_server.rs",
                "src/bin/demo_server.rs is missing",
            ),
            ("solutions/demo/README.md", "add solutions/demo/README.md"),
            (
                "solutions/demo/answers.txt",
                "add solutions/demo/answers.txt",
            ),
        ] {
            let (root, labs) = kit();
            std::fs::remove_file(root.join(remove)).unwrap();
            let found = problems(&root, &labs);
            assert!(
                found.len() == 1 && found[0].contains(says),
                "without {remove}: {found:?}"
            );
            std::fs::remove_dir_all(root).unwrap();
        }
    }

    #[test]
    fn answers_keys_and_the_readme_table_must_match_the_registry() {
        let (root, labs) = kit();
        std::fs::write(root.join("solutions/demo/answers.txt"), "prot =\n").unwrap();
        std::fs::write(root.join("README.md"), "no table\n").unwrap();
        std::fs::write(
            root.join("src/bin/stray.rs"),
            "socklab::lab_program!(\"a\", \"b\");\n",
        )
        .unwrap();
        let found = problems(&root, &labs).join("\n");
        assert!(found.contains("no `port =` entry"), "{found}");
        assert!(found.contains("`prot =` is no question"), "{found}");
        assert!(found.contains("lab table has no row"), "{found}");
        assert!(
            found.contains("src/bin/stray.rs is a lab program"),
            "{found}"
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_lab_folder_the_registry_does_not_list_is_named() {
        let (root, labs) = kit();
        std::fs::create_dir_all(root.join("tests/other/checks")).unwrap();
        std::fs::create_dir_all(root.join("tests/other/bugs")).unwrap();
        let found = problems(&root, &labs);
        assert!(
            found.len() == 1 && found[0].starts_with("tests/other/checks/ belongs to no lab"),
            "{found:?}"
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn generated_files_follow_the_registry() {
        let (root, mut labs) = kit();
        // A program renamed in the registry: its old file is stale, the new one missing.
        labs[0].bins = &["demo_client"];
        let found = problems(&root, &labs).join("\n");
        assert!(
            found.contains("src/bin/demo_client.rs is missing"),
            "{found}"
        );
        assert!(
            found.contains("src/bin/demo_server.rs is a lab program, but no lab"),
            "{found}"
        );
        crate::lab_files::write(&root, &labs).unwrap();
        assert!(!root.join("src/bin/demo_server.rs").exists());
        // A bench appears: the dispatcher is out of date until `make labs`.
        std::fs::create_dir_all(root.join("tests/demo")).unwrap();
        std::fs::write(root.join("tests/demo/bench.rs"), "pub fn main() {}\n").unwrap();
        let found = problems(&root, &labs).join("\n");
        assert!(found.contains("benches/labs.rs is out of date"), "{found}");
        crate::lab_files::write(&root, &labs).unwrap();
        let benches = std::fs::read_to_string(root.join("benches/labs.rs")).unwrap();
        assert!(
            benches.contains("demo = \"demo\" in \"../tests/demo/bench.rs\","),
            "{benches}"
        );
        // A file written by hand is never overwritten.
        std::fs::write(root.join("src/bin/demo_client.rs"), "fn main() {}\n").unwrap();
        assert!(crate::lab_files::write(&root, &labs).is_err());
        assert!(problems(&root, &labs)
            .join("\n")
            .contains("src/bin/demo_client.rs is written by hand"));
        std::fs::remove_dir_all(root).unwrap();
    }
}
