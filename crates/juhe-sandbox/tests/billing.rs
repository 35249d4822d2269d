//! The sandbox catches the most expensive client bug: retrying after a timeout. A request whose
//! client went away is still processed and billed, and every request counts for its pair.

use std::time::Duration;

use juhe_proto::Endpoint;
use juhe_sandbox::{BlockingSandbox, Fault, FaultPlan, Sandbox, demo};

fn post(sb: &BlockingSandbox, timeout_ms: u64) -> Result<String, ureq::Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_millis(timeout_ms)))
        .build()
        .new_agent();
    let body = format!(
        "key={}&idcard={}&mobile={}",
        demo::API_KEY,
        demo::MATCH.0,
        demo::MATCH.1
    );
    agent
        .post(format!("{}{}", sb.base_url(), Endpoint::Plain.path()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(body)?
        .body_mut()
        .read_to_string()
}

#[test]
fn a_client_that_retries_after_a_timeout_is_caught() {
    let sb = Sandbox::builder()
        .faults(FaultPlan::new().then(Fault::DelayMs(400)))
        .spawn_blocking()
        .unwrap();
    // The naive client: 100 ms timeout, then "retry" at once.
    assert!(post(&sb, 100).is_err(), "the first attempt times out");
    let second = post(&sb, 2_000).unwrap();
    assert!(second.contains("\"res\":1"), "{second}");
    // The abandoned first request finishes on the server and is billed too.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sb.stats().billed < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sb.stats().billed, 2);
    assert_eq!(sb.pair_count(demo::MATCH.0, demo::MATCH.1).billed, 2);
    assert_eq!(
        sb.pairs_billed_more_than_once(),
        1,
        "the double charge is visible"
    );
}

#[test]
fn unbilled_faults_count_for_their_pair() {
    let plan = FaultPlan::new()
        .then(Fault::Http500)
        .then(Fault::Drop)
        .then(Fault::ErrorCode(juhe_proto::ErrorCode::NetworkError))
        .then(Fault::HttpStatus(503));
    let sb = Sandbox::builder().faults(plan).spawn_blocking().unwrap();
    for _ in 0..4 {
        let _ = post(&sb, 2_000);
    }
    let count = sb.pair_count(demo::MATCH.0, demo::MATCH.1);
    assert_eq!(
        (count.requests, count.billed),
        (4, 0),
        "sent four times, billed never"
    );
    // A client that "sends exactly once" must show 1 here: this one sent four times.
    assert_ne!(count.requests, 1);
}

#[test]
fn slow_clients_cannot_take_it_down() {
    use std::io::{Read, Write};
    let sb = Sandbox::builder()
        .header_timeout(Duration::from_millis(500))
        .spawn_blocking()
        .unwrap();
    // A thousand connections that never finish their headers.
    let mut idle: Vec<std::net::TcpStream> = (0..1000)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(sb.addr()).unwrap();
            s.write_all(b"POST /telecom2Cucc/query HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    let started = std::time::Instant::now();
    let answer = post(&sb, 5_000).unwrap();
    assert!(answer.contains("\"res\":1"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "served while 1,000 clients stall"
    );
    // The stalled ones are cut off after the header timeout.
    std::thread::sleep(Duration::from_millis(1_200));
    let mut closed = 0;
    for s in idle.iter_mut().take(50) {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 256];
        if s.read(&mut buf).is_ok() {
            closed += 1;
        }
    }
    assert_eq!(
        closed, 50,
        "idle connections were closed (or answered 408) by the server"
    );
}

#[test]
fn reset_forgets_requests_but_keeps_the_fault_plan() {
    let plan = FaultPlan::new().then(Fault::Http500).then(Fault::Http500);
    let sb = Sandbox::builder().faults(plan).spawn_blocking().unwrap();
    let first = post(&sb, 2_000).unwrap();
    assert!(first.contains("500"), "{first}");
    assert_eq!(sb.stats().requests, 1);
    sb.reset();
    assert_eq!(sb.stats().requests, 0);
    assert_eq!(sb.pair_count(demo::MATCH.0, demo::MATCH.1).requests, 0);
    assert!(sb.recent_requests().is_empty());
    // The plan goes on where it was: the second fault, then normal answers.
    assert!(post(&sb, 2_000).unwrap().contains("500"));
    assert!(post(&sb, 2_000).unwrap().contains("\"res\":1"));
    assert_eq!(
        (sb.stats().requests, sb.stats().billed, sb.stats().faults),
        (2, 1, 1)
    );
}
