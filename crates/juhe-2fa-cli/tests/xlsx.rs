//! `batch` and `check` on Excel workbooks made by another writer (rust_xlsxwriter), outputs
//! read back with another reader (calamine), against a sandbox on loopback.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use calamine::{Data, Reader as _};
use juhe_sandbox::{BlockingSandbox, DefaultVerdict, Fault, FaultPlan, Sandbox, demo};
use rust_xlsxwriter::{Workbook, Worksheet};

mod common;

/// A cell: text, or a number as Excel keeps it.
enum Cell {
    Text(String),
    Number(f64),
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

fn sheet(name: &str, rows: &[Vec<Cell>]) -> Worksheet {
    let mut sheet = Worksheet::new();
    sheet.set_name(name).unwrap();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell {
                Cell::Text(t) => sheet.write_string(r, c, t).unwrap(),
                Cell::Number(n) => sheet.write_number(r, c, *n).unwrap(),
            };
        }
    }
    sheet
}

fn workbook(path: &Path, sheets: Vec<Worksheet>) {
    let mut book = Workbook::new();
    for sheet in sheets {
        book.push_worksheet(sheet);
    }
    book.save(path).unwrap();
}

/// The first sheet's cells as text, and whether every non-empty cell is a text cell.
fn read_back(path: &Path) -> (Vec<Vec<String>>, bool) {
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
    let first = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&first).unwrap();
    let all_text = range
        .used_cells()
        .all(|(_, _, c)| matches!(c, Data::String(_)));
    let cells = range
        .rows()
        .map(|row| row.iter().map(ToString::to_string).collect())
        .collect();
    (cells, all_text)
}

/// Sheet `名单`: a text pair, an ID stored as a number (as Excel keeps it, 15 significant
/// digits), a mobile stored as a number, a text mismatch. Sheet `second`: one text pair.
fn customers(path: &Path) {
    let (idcard, mobile) = demo::MATCH;
    let (mis_id, mis_mobile) = demo::MISMATCH;
    let rows = vec![
        vec![text("姓名"), text("idcard"), text("mobile")],
        vec![text("张三"), text(idcard), text(mobile)],
        vec![
            text("李四"),
            Cell::Number(1.10105199003071e17),
            text(mobile),
        ],
        vec![text("王五"), text(idcard), Cell::Number(13012345678.0)],
        vec![text("赵六"), text(mis_id), text(mis_mobile)],
    ];
    let second = vec![
        vec![text("mobile"), text("idcard")],
        vec![text(mis_mobile), text(mis_id)],
    ];
    workbook(path, vec![sheet("名单", &rows), sheet("second", &second)]);
}

#[test]
fn batch_writes_xlsx_text_cells_and_rejects_ids_stored_as_numbers() {
    let sb = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.xlsx"), dir.path().join("out.xlsx"));
    customers(&input);
    let run = common::run(&mut common::batch_cmd(
        &sb.base_url(),
        demo::API_KEY,
        &[],
        &input,
        &output,
    ));
    // Two rejected rows are final: the job is complete.
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sb.stats().requests, 2, "number cells are never sent");
    let (cells, all_text) = read_back(&output);
    assert!(all_text, "every cell a text cell: {cells:?}");
    assert_eq!(
        cells[0],
        [
            "姓名",
            "idcard",
            "mobile",
            "status",
            "res",
            "order_id",
            "error_code",
            "reason"
        ]
    );
    let (idcard, mobile) = demo::MATCH;
    assert_eq!(cells[1][..5], ["张三", idcard, mobile, "match", "1"]);
    for row in [2, 3] {
        assert_eq!(cells[row][3], "rejected");
        assert!(
            cells[row][7].contains("stored as a number in Excel")
                && cells[row][7].contains("format the column as text"),
            "{:?}",
            cells[row]
        );
    }
    assert!(cells[2][7].contains("digits lost"));
    assert_eq!(cells[4][3], "mismatch");

    // The second sheet by name, with --prefix.
    let second = dir.path().join("second.xlsx");
    let run = common::run(
        common::batch_cmd(&sb.base_url(), demo::API_KEY, &[], &input, &second)
            .args(["--sheet", "second", "--prefix", "juhe_"]),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (cells, _) = read_back(&second);
    assert_eq!(cells[0][..3], ["mobile", "idcard", "juhe_status"]);
    assert_eq!(cells[1][2], "mismatch");
    assert_eq!(cells.len(), 2);

    let run = common::run(
        common::batch_cmd(
            &sb.base_url(),
            demo::API_KEY,
            &[],
            &input,
            &dir.path().join("x.xlsx"),
        )
        .args(["--sheet", "nope"]),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("no sheet named `nope`") && run.stderr.contains("名单, second"),
        "{}",
        run.stderr
    );
}

#[test]
fn check_reads_xlsx_and_names_number_cells() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.xlsx");
    customers(&input);
    let input_arg = input.to_str().unwrap();
    let run = common::run(common::bin().args(["check", "--input", input_arg]));
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("line 2: idcard: the idcard cell is stored as a number in Excel: digits lost — format the column as text"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("line 3: ")
            && run
                .stdout
                .contains("mobile cell is stored as a number in Excel"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("4 rows: 2 valid"), "{}", run.stdout);
    assert!(!run.stdout.contains("1101051990030712"), "never unmasked");

    let run = common::run(
        common::bin().args(["--json", "check", "--input", input_arg, "--sheet", "second"]),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(line["idcard_valid"], true);
    assert_eq!(line["mobile_valid"], true);

    let csv = dir.path().join("in.csv");
    std::fs::write(&csv, "idcard,mobile\n").unwrap();
    let run = common::run(common::bin().args([
        "check",
        "--input",
        csv.to_str().unwrap(),
        "--sheet",
        "x",
    ]));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("not an .xlsx workbook"),
        "{}",
        run.stderr
    );
}

/// `check` names a number cell under its own column, and still checks the other column: an
/// ID stored as a number does not make the (text) mobile "stored as a number", nor the
/// other way round; with both stored as numbers, both are named. In both languages; `--json`
/// says which field is invalid.
#[test]
fn check_names_each_number_cell_under_its_own_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.xlsx");
    let (idcard, mobile) = demo::MATCH;
    let rows = vec![
        vec![text("idcard"), text("mobile")],
        vec![Cell::Number(1.101_051_990_030_712e17), text(mobile)],
        vec![text(idcard), Cell::Number(13_012_345_678.0)],
        vec![
            Cell::Number(1.101_051_990_030_712e17),
            Cell::Number(13_012_345_678.0),
        ],
    ];
    workbook(&input, vec![sheet("Sheet1", &rows)]);
    let input_arg = input.to_str().unwrap();
    for (lang, id, mob, id_cell, mob_cell) in [
        (
            "en",
            "idcard: ",
            "mobile: ",
            "the idcard cell",
            "the mobile cell",
        ),
        (
            "zh",
            "身份证号：",
            "手机号：",
            "idcard 单元格",
            "mobile 单元格",
        ),
    ] {
        let run = common::run(common::bin().args(["--lang", lang, "check", "--input", input_arg]));
        assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
        let lines: Vec<&str> = run.stdout.lines().collect();
        let (two, three, four) = (lines[0], lines[1], lines[2]);
        assert!(two.contains(&format!("{id}{id_cell}")), "{two}");
        assert!(!two.contains(mob_cell) && !two.contains(mob), "{two}");
        assert!(three.contains(&format!("{mob}{mob_cell}")), "{three}");
        assert!(!three.contains(id_cell) && !three.contains(id), "{three}");
        assert!(four.contains(&format!("{id}{id_cell}")), "{four}");
        assert!(four.contains(&format!("{mob}{mob_cell}")), "{four}");
    }
    let run = common::run(common::bin().args(["--json", "check", "--input", input_arg]));
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let valid = |l: &serde_json::Value| (l["idcard_valid"].clone(), l["mobile_valid"].clone());
    assert_eq!(valid(&lines[0]), (false.into(), true.into()));
    assert_eq!(valid(&lines[1]), (true.into(), false.into()));
    assert_eq!(valid(&lines[2]), (false.into(), false.into()));
    assert_eq!(lines[1]["carrier"], "unknown");
    assert!(
        lines[2]["mobile_error"]
            .as_str()
            .unwrap()
            .contains("the mobile cell"),
        "{}",
        run.stdout
    );
}

const ROWS: usize = 60;

fn run_batch(sb: &BlockingSandbox, input: &Path, output: &Path) -> std::process::Child {
    common::batch_cmd(&sb.base_url(), demo::API_KEY, &[], input, output)
        .args(["--concurrency", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn an_xlsx_batch_killed_mid_way_resumes_and_bills_no_pair_twice() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = common::pairs_from("3101041985", "131", ROWS);
    let mut rows = vec![vec![text("姓名"), text("idcard"), text("mobile")]];
    for (i, (id, m)) in pairs.iter().enumerate() {
        rows.push(vec![text(&format!("张{i}")), text(id), text(m)]);
    }
    let input = dir.path().join("in.xlsx");
    workbook(&input, vec![sheet("Sheet1", &rows)]);
    // Killed mid-way (rows sent, no output yet) at least once: else the test proves nothing.
    let mut killed_mid_way = 0;
    for delay in [80, 150, 250, 400, 600] {
        let sb = Sandbox::builder()
            .default_verdict(DefaultVerdict::Match)
            .faults(FaultPlan::new().then_times(Fault::DelayMs(15), 10 * ROWS))
            .spawn_blocking()
            .unwrap();
        let output = dir.path().join(format!("out-{delay}.xlsx"));
        let mut child = run_batch(&sb, &input, &output);
        std::thread::sleep(Duration::from_millis(delay));
        Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status()
            .unwrap();
        child.wait().unwrap();
        let before = sb.stats().requests;
        if before > 0 && before < ROWS as u64 && !output.exists() {
            killed_mid_way += 1;
        }

        let rerun = run_batch(&sb, &input, &output).wait_with_output().unwrap();
        assert!(
            matches!(rerun.status.code(), Some(0) | Some(5)),
            "{delay}: {:?}",
            rerun.status
        );
        assert_eq!(
            sb.pairs_billed_more_than_once(),
            0,
            "{delay}: no pair twice"
        );
        assert!(sb.stats().billed <= ROWS as u64);
        let (cells, all_text) = read_back(&output);
        assert!(all_text);
        assert_eq!(cells.len(), ROWS + 1, "{delay}: every row exactly once");
        for (i, (id, _)) in pairs.iter().enumerate() {
            assert_eq!(
                cells[i + 1][..2],
                [format!("张{i}"), id.clone()],
                "in order"
            );
            assert!(
                matches!(cells[i + 1][3].as_str(), "match" | "unknown"),
                "{:?}",
                cells[i + 1]
            );
        }
    }
    assert!(killed_mid_way > 0, "no kill landed mid-way");
}
