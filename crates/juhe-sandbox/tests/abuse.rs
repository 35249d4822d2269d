//! Attacks an adversarial client can make on a running sandbox: connections that trickle a
//! request body to hold every connection slot, and unknown paths that would grow the counters
//! without bound. The sandbox must keep answering normal clients and keep its memory flat.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use juhe_proto::Endpoint;
use juhe_sandbox::{BlockingSandbox, Sandbox, Stats, demo};

/// A complete header block announcing a body far larger than what will be sent.
const SLOW_HEAD: &[u8] = b"POST /telecom2Cucc/query HTTP/1.1\r\nHost: x\r\n\
Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\nk";

fn post_match(sb: &BlockingSandbox, timeout: Duration) -> Result<String, ureq::Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
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

/// Opens one slow-body connection: complete headers, then the first body byte.
fn slow_connection(addr: SocketAddr) -> Option<TcpStream> {
    // A full accept queue drops SYNs; the kernel resends them after 1 s and 3 s.
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_write_timeout(Some(Duration::from_millis(200))).ok()?;
    s.write_all(SLOW_HEAD).ok()?;
    Some(s)
}

/// What the server sent on a connection, up to `timeout` (EOF or reset end it early).
fn read_answer(s: &mut TcpStream, timeout: Duration) -> String {
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the server has closed (or answered) a connection we only write to: EOF, an answer
/// or a reset, rather than nothing to read yet.
fn closed_by_server(s: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    match s.peek(&mut probe) {
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// One attacker's connections: each sends a body byte every 2 s, and one the server closes
/// is opened again within 0.1 s, so the pressure never lets up. Counts the connections open,
/// and `ready` once all were opened a first time.
fn trickle(addr: SocketAddr, n: usize, stop: &AtomicBool, counters: &[AtomicUsize; 3]) {
    let [open, reopened, ready] = counters;
    let connect = || {
        let s = slow_connection(addr)?;
        s.set_nonblocking(true).ok()?;
        Some((s, Instant::now()))
    };
    let mut conns: Vec<Option<(TcpStream, Instant)>> = Vec::with_capacity(n);
    for _ in 0..n {
        let conn = connect();
        open.fetch_add(usize::from(conn.is_some()), Ordering::Relaxed);
        conns.push(conn);
    }
    ready.fetch_add(1, Ordering::Relaxed);
    while !stop.load(Ordering::Relaxed) {
        for slot in &mut conns {
            let alive = match slot {
                Some((s, last)) if !closed_by_server(s) => {
                    if last.elapsed() < Duration::from_secs(2) {
                        true
                    } else {
                        *last = Instant::now();
                        // Nonblocking: a full send buffer is not a closed connection.
                        !matches!(s.write(b"="), Err(e) if e.kind() != std::io::ErrorKind::WouldBlock)
                    }
                }
                _ => false,
            };
            if !alive {
                if slot.take().is_some() {
                    open.fetch_sub(1, Ordering::Relaxed);
                }
                *slot = connect();
                if slot.is_some() {
                    open.fetch_add(1, Ordering::Relaxed);
                    reopened.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The attack of the report: 2,100 connections (more than the 2,048 connection cap) send
/// complete headers with `Content-Length: 60000`, then one body byte every 2 s, and are opened
/// again as soon as the server closes them. Normal requests made all through the attack are
/// answered within 3 s.
#[test]
fn body_slowloris_with_2100_connections_cannot_take_it_down() {
    const ATTACKERS: usize = 2_100;
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let addr = sb.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new([
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ]);
    let [open, reopened, ready] = &*counters;
    let attackers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, counters) = (stop.clone(), counters.clone());
            std::thread::spawn(move || trickle(addr, ATTACKERS / 2, &stop, &counters))
        })
        .collect();

    // Wait until every attacker connection was opened (the last ones past the cap).
    let setup = Instant::now();
    while ready.load(Ordering::Relaxed) < 2 && setup.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut attacking = vec![open.load(Ordering::Relaxed)];

    // Normal requests all through the attack, one every 2 s for 8 s.
    let mut latencies = Vec::new();
    for _ in 0..4 {
        let started = Instant::now();
        let answer = post_match(&sb, Duration::from_secs(6));
        let took = started.elapsed();
        latencies.push(took);
        attacking.push(open.load(Ordering::Relaxed));
        if answer.is_err() || took >= Duration::from_secs(3) {
            stop.store(true, Ordering::Relaxed);
        }
        assert!(
            answer.as_ref().is_ok_and(|a| a.contains("\"res\":1")),
            "answered during the attack: {answer:?} after {took:?}"
        );
        assert!(
            took < Duration::from_secs(3),
            "answered within 3 s during the attack: {latencies:?}"
        );
        std::thread::sleep(Duration::from_secs(2).saturating_sub(took));
    }
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.join().unwrap();
    }
    assert!(
        attacking.iter().all(|n| *n >= ATTACKERS * 9 / 10),
        "the attack kept its connections open: {attacking:?}"
    );
    assert!(
        reopened.load(Ordering::Relaxed) > 0,
        "the server cut slow bodies off"
    );
    // No trickled request was ever taken for a real one.
    assert_eq!(sb.stats().billed, 4, "{:?}", sb.stats());
}

/// The minimum body rate: a body trickled below it is cut off with 408 soon after the grace
/// second, long before the whole-request deadline.
#[test]
fn a_body_below_the_minimum_rate_is_cut_off_with_408() {
    let sb = Sandbox::builder()
        .min_body_rate(100)
        .request_timeout(Duration::from_secs(20))
        .spawn_blocking()
        .unwrap();
    let started = Instant::now();
    let mut s = slow_connection(sb.addr()).unwrap();
    // 10 bytes/s: well under 100 bytes/s.
    let trickle = {
        let mut s = s.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..40 {
                if s.write_all(b"=").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let answer = read_answer(&mut s, Duration::from_secs(8));
    let took = started.elapsed();
    trickle.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error_code\":408"), "{answer}");
    assert!(took < Duration::from_secs(4), "cut off after {took:?}");
}

/// The whole-request deadline: a body that keeps up the minimum rate but never ends is cut off
/// with 408 once the request has taken `request_timeout`, headers included.
#[test]
fn a_request_that_never_ends_meets_the_whole_request_deadline() {
    let sb = Sandbox::builder()
        .min_body_rate(0)
        .request_timeout(Duration::from_millis(1_500))
        .spawn_blocking()
        .unwrap();
    let mut s = TcpStream::connect(sb.addr()).unwrap();
    let started = Instant::now();
    let writer = {
        let mut s = s.try_clone().unwrap();
        std::thread::spawn(move || {
            // Headers trickled for 0.6 s, then a body that keeps coming.
            for chunk in SLOW_HEAD.chunks(SLOW_HEAD.len() / 3 + 1) {
                if s.write_all(chunk).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            for _ in 0..100 {
                if s.write_all(b"a=1&").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let answer = read_answer(&mut s, Duration::from_secs(8));
    let took = started.elapsed();
    writer.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        took >= Duration::from_millis(1_400) && took < Duration::from_millis(3_000),
        "cut off after {took:?}, the deadline counting from the first header byte"
    );
}

/// A normal client whose body comes in a few pieces, a little late, is not mistaken for an
/// attacker.
#[test]
fn a_body_sent_in_pieces_within_the_limits_is_answered() {
    let sb = Sandbox::builder().spawn_blocking().unwrap();
    let body = format!(
        "key={}&idcard={}&mobile={}",
        demo::API_KEY,
        demo::MATCH.0,
        demo::MATCH.1
    );
    let mut s = TcpStream::connect(sb.addr()).unwrap();
    write!(
        s,
        "POST /telecom2Cucc/query HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    for piece in body.as_bytes().chunks(body.len() / 3 + 1) {
        std::thread::sleep(Duration::from_millis(300));
        s.write_all(piece).unwrap();
    }
    let answer = read_answer(&mut s, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"res\":1"), "{answer}");
}

/// At the connection cap, a connection that has been stalled longest makes room for a new one:
/// clients trickling their headers cannot hold every slot until the header timeout.
#[test]
fn at_the_cap_a_stalled_connection_makes_room() {
    let sb = Sandbox::builder()
        .max_connections(50)
        .header_timeout(Duration::from_secs(30))
        .request_timeout(Duration::from_secs(30))
        .spawn_blocking()
        .unwrap();
    let stalled: Vec<TcpStream> = (0..60)
        .map(|_| {
            let mut s = TcpStream::connect(sb.addr()).unwrap();
            s.write_all(b"POST /telecom2Cucc/query HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    let answer = post_match(&sb, Duration::from_secs(10));
    let took = started.elapsed();
    assert!(
        answer.as_ref().is_ok_and(|a| a.contains("\"res\":1")),
        "{answer:?}"
    );
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    // Some of the stalled ones were closed to make room (the oldest first).
    let closed = stalled
        .iter()
        .take(20)
        .filter(|s| {
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            closed_by_server(s)
        })
        .count();
    assert!(closed > 0, "no stalled connection was closed");
}

/// Unknown paths all count under one bucket: 2,000 distinct long paths leave `by_path` with
/// one entry for them and the stats document small. Made-up methods are not kept either.
#[tokio::test]
async fn unknown_paths_and_methods_count_under_one_bucket() {
    let sandbox = Sandbox::builder().build_in_process().unwrap();
    let long = "x".repeat(2_000);
    for i in 0..2_000 {
        let request = http::Request::get(format!("/{long}/{i}"))
            .body(Vec::new())
            .unwrap();
        let response = sandbox.handle(request).await.unwrap();
        assert_eq!(response.status(), 404);
    }
    let request = http::Request::get(format!(
        "{}?key={}&idcard={}&mobile={}",
        Endpoint::Plain.path(),
        demo::API_KEY,
        demo::MATCH.0,
        demo::MATCH.1
    ))
    .body(Vec::new())
    .unwrap();
    sandbox.handle(request).await.unwrap();
    let method = http::Method::from_bytes("X".repeat(4_000).as_bytes()).unwrap();
    let request = http::Request::builder()
        .method(method)
        .uri(Endpoint::Plain.path())
        .body(Vec::new())
        .unwrap();
    assert_eq!(sandbox.handle(request).await.unwrap().status(), 405);

    let stats = sandbox.stats();
    assert_eq!(stats.requests, 2_002);
    assert_eq!(stats.by_path.len(), 2, "one entry for all unknown paths");
    assert_eq!(stats.by_path.get(Stats::OTHER_PATHS), Some(&2_000));
    assert_eq!(stats.by_path.get(Endpoint::Plain.path()), Some(&2));

    let request = http::Request::get("/__sandbox/stats")
        .body(Vec::new())
        .unwrap();
    let body = sandbox.handle(request).await.unwrap().into_body();
    assert!(body.len() < 64 * 1024, "stats body is {} bytes", body.len());
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["stats"]["by_path"][Stats::OTHER_PATHS], 2_000);
    let recent = json["recent"].as_array().unwrap();
    assert_eq!(recent.last().unwrap()["method"], "(other)");
    assert_eq!(recent[recent.len() - 2]["method"], "GET");
}
