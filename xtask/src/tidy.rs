//! Source rules that a compiler does not check, as rust-analyzer's tidy does: no vendor error
//! code written as a number outside `error_code.rs` (use `ErrorCode`), and no function over
//! `MAX_FN_LINES` lines. Test modules (after `#[cfg(test)]`) and comments are exempt.

use std::path::{Path, PathBuf};

use crate::util::workspace_root;

const MAX_FN_LINES: usize = 80;

pub fn run() -> Result<(), String> {
    let mut problems = Vec::new();
    for file in sources()? {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let shown = file
            .strip_prefix(workspace_root())
            .unwrap_or(&file)
            .display()
            .to_string();
        let lines: Vec<&str> = text
            .lines()
            .take_while(|l| l.trim() != "#[cfg(test)]")
            .collect();
        if !file.ends_with("error_code.rs") {
            for (i, line) in lines.iter().enumerate() {
                let code = line.trim_start();
                if !code.starts_with("//") && has_vendor_code(code) {
                    problems.push(format!(
                        "{shown}:{}: a vendor code as a number; use ErrorCode",
                        i + 1
                    ));
                }
            }
        }
        for (start, len) in long_functions(&lines) {
            problems.push(format!(
                "{shown}:{}: function of {len} lines (at most {MAX_FN_LINES})",
                start + 1
            ));
        }
    }
    problems.extend(error_list_in_usage()?);
    if problems.is_empty() {
        println!(
            "xtask tidy: no vendor code literals, no function over {MAX_FN_LINES} lines, every Error variant in usage.md"
        );
        Ok(())
    } else {
        Err(format!("tidy:\n{}", problems.join("\n")))
    }
}

/// docs/usage.md's list of `juhe_2fa::Error`'s variants (its `## Errors` section) names every
/// variant of the enum, so the guide cannot fall behind the code.
fn error_list_in_usage() -> Result<Vec<String>, String> {
    let root = workspace_root();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).map_err(|e| format!("{p}: {e}"));
    let code = read("crates/juhe-2fa/src/error.rs")?;
    let usage = read("docs/usage.md")?;
    let section = usage
        .split("\n## Errors")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .ok_or("docs/usage.md: no `## Errors` section")?;
    let body = code
        .split("pub enum Error {")
        .nth(1)
        .and_then(|s| s.split("\n}").next())
        .ok_or("crates/juhe-2fa/src/error.rs: no `pub enum Error`")?;
    let variants = body.lines().filter_map(|line| {
        let name = line.strip_prefix("    ")?;
        let end = name.find(|c: char| !c.is_ascii_alphanumeric())?;
        let (name, rest) = name.split_at(end);
        (name.starts_with(|c: char| c.is_ascii_uppercase())
            && [",", " {", "("].iter().any(|p| rest.starts_with(p)))
        .then_some(name)
    });
    Ok(variants
        .filter(|name| !section.contains(&format!("`{name}")))
        .map(|name| format!("docs/usage.md: the Errors section does not name Error::{name}"))
        .collect())
}

/// Every `.rs` file under a `src/` of the crates, the examples and xtask.
fn sources() -> Result<Vec<PathBuf>, String> {
    let root = workspace_root();
    let mut dirs = vec![root.join("xtask/src")];
    for parent in ["crates", "examples"] {
        let entries = std::fs::read_dir(root.join(parent)).map_err(|e| format!("{parent}: {e}"))?;
        dirs.extend(
            entries
                .flatten()
                .map(|e| e.path().join("src"))
                .filter(|p| p.is_dir()),
        );
    }
    let mut files = Vec::new();
    for dir in dirs {
        collect(&dir, &mut files)?;
    }
    files.sort();
    Ok(files)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    for entry in std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    Ok(())
}

/// A whole-word number shaped like a system code (`100` + 2 digits) or a service code of this
/// API (`2329` + 2 digits).
fn has_vendor_code(line: &str) -> bool {
    line.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|word| {
            let digits = word.bytes().all(|b| b.is_ascii_digit());
            digits
                && ((word.len() == 5 && word.starts_with("100"))
                    || (word.len() == 6 && word.starts_with("2329")))
        })
}

/// `(first line, length)` of every function body longer than the limit: from the `fn` line to
/// the closing brace at the same indentation.
fn long_functions(lines: &[&str]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        let is_fn = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "async fn ",
            "pub async fn ",
            "pub(crate) async fn ",
        ]
        .iter()
        .any(|p| code.starts_with(p));
        if !is_fn {
            continue;
        }
        let indent = &line[..line.len() - code.len()];
        let close = format!("{indent}}}");
        let body = lines[start..].iter().position(|l| {
            l.trim_end() == close
                || l.trim_end().ends_with(';')
                    && l.starts_with(indent)
                    && !l[indent.len()..].starts_with(' ')
        });
        if let Some(end) = body {
            let len = end + 1;
            if len > MAX_FN_LINES && lines[start + end].trim_end() == close {
                found.push((start, len));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_codes_and_long_functions() {
        let code = ["2329", "04"].concat();
        assert!(has_vendor_code(&format!("Outcome::Error({code})")));
        assert!(!has_vendor_code("let x = 100120; // and 2329041"));
        let mut lines = vec!["pub fn long() {"];
        lines.extend(std::iter::repeat_n("    x();", 85));
        lines.push("}");
        lines.push("fn short() {}");
        assert_eq!(long_functions(&lines), vec![(0, 87)]);
    }
}
