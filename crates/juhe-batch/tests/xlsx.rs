//! Excel workbooks in and out: inputs made here with another writer (rust_xlsxwriter), outputs
//! read back with another reader (calamine), against an in-process sandbox on loopback.

use std::path::Path;
use std::time::Duration;

use calamine::{Data, Reader as _};
use juhe_2fa::{Client, Mode};
use juhe_batch::{Error, Event, Job, Origin, RowReader, Status, StopHandle, Summary};
use juhe_sandbox::{DefaultVerdict, Sandbox, SandboxHandle, demo};
use rust_xlsxwriter::{Workbook, Worksheet};

async fn sandbox() -> SandboxHandle {
    Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn()
        .await
        .unwrap()
}

fn client(sandbox: &SandboxHandle, stop: &StopHandle) -> Client {
    Client::builder()
        .api_key(demo::API_KEY)
        .base_url(sandbox.base_url())
        .mode(Mode::Plain)
        .timeout(Duration::from_secs(5))
        .timer(stop.clone())
        .build()
        .unwrap()
}

/// Runs `job` and collects each row's (number, status, origin, reason).
async fn run(
    job: Job,
    client: Client,
    mut also: impl FnMut() + Send,
) -> (Vec<(u64, Status, Origin, String)>, Summary) {
    let mut rows = Vec::new();
    let summary = job
        .open(client)
        .unwrap()
        .run(|event| {
            if let Event::Row {
                row,
                result,
                origin,
                ..
            } = event
            {
                let reason = result.reason.clone().unwrap_or_default();
                rows.push((row.number, result.status, origin, reason));
                also();
            }
        })
        .await
        .unwrap();
    (rows, summary)
}

/// A cell: text, or a number as Excel keeps it.
#[derive(Clone, Copy)]
enum Cell<'a> {
    Text(&'a str),
    Number(f64),
}

use Cell::{Number, Text};

fn sheet(name: &str, rows: &[&[Cell<'_>]]) -> Worksheet {
    let mut sheet = Worksheet::new();
    sheet.set_name(name).unwrap();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell {
                Text(text) => sheet.write_string(r, c, *text).unwrap(),
                Number(n) => sheet.write_number(r, c, *n).unwrap(),
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

/// The first sheet of a workbook: its cells, and whether every non-empty one is a text cell.
fn read_back(path: &Path) -> (Vec<Vec<String>>, bool) {
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(path).unwrap();
    let first = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&first).unwrap();
    let all_text = range
        .used_cells()
        .all(|(_, _, cell)| matches!(cell, Data::String(_)));
    let cells = range
        .rows()
        .map(|row| row.iter().map(|c| c.to_string()).collect())
        .collect();
    (cells, all_text)
}

const HEADER: [&str; 9] = [
    "name",
    "idcard",
    "mobile",
    "note",
    "status",
    "res",
    "order_id",
    "error_code",
    "reason",
];

/// The customers sheet: text IDs, an ID and a mobile stored as numbers (the ID as Excel keeps
/// it: 15 significant digits), a blank row, a number in a column that passes through.
fn customers(path: &Path) {
    let (idcard, mobile) = demo::MATCH;
    let (mis_id, mis_mobile) = demo::MISMATCH;
    let rows: &[&[Cell<'_>]] = &[
        &[Text("name"), Text("IDCard"), Text("mobile"), Text("note")],
        &[Text("张三"), Text(idcard), Text(mobile), Number(42.0)],
        &[
            Text("李四"),
            Number(110105199003071000.0),
            Text(mobile),
            Text(""),
        ],
        &[Text("王五"), Text(idcard), Number(13012345678.0), Text("x")],
        &[],
        &[Text("赵六"), Text(mis_id), Text(mis_mobile), Text("=1+1")],
    ];
    let other: &[&[Cell<'_>]] = &[
        &[Text("idcard"), Text("mobile")],
        &[Text(mis_id), Text(mis_mobile)],
    ];
    workbook(path, vec![sheet("客户", rows), sheet("other", other)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsx_in_and_out_with_number_cells_rejected_and_every_cell_text() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.xlsx"), dir.path().join("out.xlsx"));
    customers(&input);
    let stop = StopHandle::new();
    let job = Job::new(&input, &output).stop_handle(stop.clone());
    let opened = job.clone().open(client(&sb, &stop)).unwrap();
    assert_eq!(opened.total(), Some(4), "the blank row is not counted");
    drop(opened);
    let (rows, summary) = run(job, client(&sb, &stop), || {}).await;
    let statuses: Vec<(u64, Status)> = rows.iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(
        statuses,
        [
            (1, Status::Match),
            (2, Status::Rejected),
            (3, Status::Rejected),
            (4, Status::Mismatch),
        ]
    );
    assert!(
        rows[1].3.starts_with(
            "the idcard cell is stored as a number in Excel: digits lost — format the column as text"
        ),
        "{}",
        rows[1].3
    );
    assert!(
        rows[2]
            .3
            .contains("mobile cell is stored as a number in Excel"),
        "{}",
        rows[2].3
    );
    assert_eq!(summary.billable, 2);
    assert_eq!(sb.stats().requests, 2, "number cells are never sent");

    let (cells, all_text) = read_back(&output);
    assert!(all_text, "every cell written is a text cell");
    assert_eq!(cells.len(), 5, "header and four rows: {cells:?}");
    assert_eq!(
        cells[0],
        ["name", "IDCard", "mobile", "note"]
            .iter()
            .chain(&HEADER[4..])
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
    let (idcard, mobile) = demo::MATCH;
    assert_eq!(cells[1][..6], ["张三", idcard, mobile, "42", "match", "1"]);
    assert!(cells[1][6].starts_with("JH"), "{:?}", cells[1]);
    assert_eq!(cells[2][4], "rejected");
    assert!(cells[2][8].contains("stored as a number in Excel"));
    assert_eq!(cells[4][3], "=1+1", "a text cell, never a formula");
    assert_eq!(cells[4][4], "mismatch");
    assert!(!dir.path().join("out.xlsx.partial").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&output).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xlsx_job_stopped_part_way_resumes_without_sending_a_row_twice() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.xlsx"), dir.path().join("out.xlsx"));
    customers(&input);

    // Stopped after the first row: no output, and no `.partial` left behind.
    let stop = StopHandle::new();
    let job = Job::new(&input, &output)
        .concurrency(std::num::NonZeroUsize::MIN)
        .stop_handle(stop.clone());
    let stopper = stop.clone();
    let (rows, _) = run(job, client(&sb, &stop), move || stopper.stop()).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(sb.stats().requests, 1);
    assert!(!output.exists() && !dir.path().join("out.xlsx.partial").exists());

    // A crash leaves an empty `.partial` (the sheet is written whole at the end): the rerun
    // replaces it, takes row 1 from the journal and sends only the rest.
    std::fs::write(dir.path().join("out.xlsx.partial"), b"").unwrap();
    let stop = StopHandle::new();
    let job = Job::new(&input, &output).stop_handle(stop.clone());
    let (rows, summary) = run(job, client(&sb, &stop), || {}).await;
    assert_eq!(rows[0].2, Origin::Earlier);
    assert_eq!((summary.billable, summary.billable_this_run), (2, 1));
    assert_eq!(sb.stats().requests, 2);
    let (cells, _) = read_back(&output);
    assert_eq!(cells.len(), 5);
    assert_eq!(cells[1][4], "match");
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_sheet_csv_to_xlsx_and_xlsx_to_csv() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.xlsx");
    customers(&input);
    let stop = StopHandle::new();

    // The second sheet, by name, to CSV (UTF-8 with a BOM, for Excel).
    let csv_out = dir.path().join("other.csv");
    let job = Job::new(&input, &csv_out)
        .sheet("other")
        .stop_handle(stop.clone());
    let (rows, _) = run(job, client(&sb, &stop), || {}).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, Status::Mismatch);
    let text = std::fs::read_to_string(&csv_out).unwrap();
    let (mis_id, mis_mobile) = demo::MISMATCH;
    assert!(
        text.starts_with(&format!(
            "\u{feff}idcard,mobile,status,res,order_id,error_code,reason\n{mis_id},{mis_mobile},mismatch,2,"
        )),
        "{text}"
    );

    // CSV in, .xlsx out: the CSV's columns as text cells (the ID keeps all 18 digits).
    let csv_in = dir.path().join("plain.csv");
    let (idcard, mobile) = demo::MATCH;
    std::fs::write(
        &csv_in,
        format!("name,idcard,mobile\n张三,{idcard},{mobile}\n"),
    )
    .unwrap();
    let xlsx_out = dir.path().join("plain.xlsx");
    let job = Job::new(&csv_in, &xlsx_out).stop_handle(stop.clone());
    run(job, client(&sb, &stop), || {}).await;
    let (cells, all_text) = read_back(&xlsx_out);
    assert!(all_text);
    assert_eq!(cells[0][..4], ["name", "idcard", "mobile", "status"]);
    assert_eq!(cells[1][..5], ["张三", idcard, mobile, "match", "1"]);
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheet_problems_are_typed_and_found_before_anything_is_sent() {
    let sb = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.xlsx");
    customers(&input);
    let stop = StopHandle::new();
    let make = || client(&sb, &stop);

    let missing = Job::new(&input, dir.path().join("a.xlsx"))
        .sheet("Sheet9")
        .open(make())
        .err()
        .unwrap();
    match &missing {
        Error::NoSheet {
            name, available, ..
        } => {
            assert_eq!(name.as_deref(), Some("Sheet9"));
            assert_eq!(available, &["客户", "other"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(missing.is_setup());

    let csv = dir.path().join("in.csv");
    std::fs::write(&csv, "idcard,mobile\n").unwrap();
    let not_book = Job::new(&csv, dir.path().join("b.csv"))
        .sheet("other")
        .open(make())
        .err()
        .unwrap();
    assert!(
        matches!(not_book, Error::NotWorkbook { .. }),
        "{not_book:?}"
    );

    let jsonl = dir.path().join("in.jsonl");
    std::fs::write(&jsonl, "{}\n").unwrap();
    let from_jsonl = Job::new(&jsonl, dir.path().join("c.xlsx"))
        .open(make())
        .err()
        .unwrap();
    assert!(
        matches!(from_jsonl, Error::XlsxFromJsonl { .. }),
        "{from_jsonl:?}"
    );

    let garbage = dir.path().join("bad.xlsx");
    std::fs::write(&garbage, "idcard,mobile\n").unwrap();
    let unreadable = RowReader::open(&garbage, juhe_batch::Encoding::Auto)
        .err()
        .unwrap();
    assert!(
        matches!(unreadable, Error::Workbook { .. }),
        "{unreadable:?}"
    );

    let headless = dir.path().join("headless.xlsx");
    workbook(
        &headless,
        vec![sheet("s", &[&[Text("name"), Text("phone")]])],
    );
    let header = RowReader::open(&headless, juhe_batch::Encoding::Auto)
        .err()
        .unwrap();
    match &header {
        Error::MissingColumns { missing, .. } => assert_eq!(missing, &["idcard", "mobile"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(sb.stats().requests, 0);
    sb.shutdown().await;
}
