use crate::util::*;

#[test]
fn help_lists_commands_examples_and_exit_codes() {
    let run = scry(&["--help"]);
    assert_eq!(run.code, 0);
    for word in [
        "info",
        "verify",
        "completions",
        "man",
        "Exit codes:",
        "3  unreadable, corrupt",
    ] {
        assert_contains!(run.stdout, word);
    }
    let info = scry(&["info", "--help"]);
    assert_contains!(info.stdout, "Examples:");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(scry(&["info"]).code, 2);
    assert_eq!(scry(&["no-such-command"]).code, 2);
    assert_eq!(scry(&["completions", "tcsh"]).code, 2);
}

#[test]
fn completions_and_man_page_are_generated() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = scry(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}");
        assert_contains!(run.stdout, "verify");
    }
    let man = scry(&["man"]);
    assert_eq!(man.code, 0);
    assert_contains!(man.stdout, ".TH scry 1");
    assert_contains!(man.stdout, "verify");
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let dir = TempDir::new("pipe");
    let path = dir.path("t.scry");
    std::fs::write(&path, small_trace(300)).unwrap();
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' info '{path}' '{path}' '{path}' | head -c 1 >/dev/null; exit ${{PIPESTATUS[0]}}",
            env!("CARGO_BIN_EXE_scry")
        ))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn fields_lists_every_field_with_type_and_description() {
    let run = scry(&["fields"]);
    assert_eq!(run.code, 0);
    for name in [
        "evt.type",
        "evt.outputtime",
        "proc.aname[N]",
        "fd.name",
        "evt.arg[NAME|N]",
        "container.id",
        "fs.path.name",
    ] {
        assert_contains!(run.stdout, name);
    }
    let json = scry(&["fields", "--json"]);
    assert_eq!(json.code, 0);
    let lines: Vec<&str> = json.stdout.lines().collect();
    assert_eq!(lines.len(), run.stdout.lines().count());
    for line in lines {
        assert!(
            line.starts_with("{\"name\":\"") && line.ends_with("\"}"),
            "{line}"
        );
        assert!(
            line.contains("\"type\":\"") && line.contains("\"description\":\""),
            "{line}"
        );
    }
}
