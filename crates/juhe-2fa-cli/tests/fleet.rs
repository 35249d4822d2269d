//! Several `juhe-2fa` processes on one key, one Redis (a real `redis-server`, started here on
//! a free loopback port) and one sandbox: one bill per pair checked at once, one QPS budget,
//! Redis killed mid-run, and nothing personal in Redis.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{batch_cmd, bin, pairs_from, wait_at_most, write_csv};
use juhe_sandbox::{DefaultVerdict, Fault, FaultPlan, RedisServer, Sandbox, demo};

fn verify_cmd(base_url: &str, redis: &str, extra: &[&str]) -> std::process::Command {
    let (idcard, mobile) = demo::MATCH;
    let mut cmd = bin();
    cmd.env("JUHE_KEY", demo::API_KEY)
        .env("JUHE_REDIS_URL", redis)
        .args(["--base-url", base_url, "--json"])
        .args(extra)
        .args(["verify", "--idcard", idcard, "--mobile", mobile])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn order_id(stdout: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    v["order_id"].as_str().unwrap().to_owned()
}

#[test]
fn four_processes_checking_one_pair_are_billed_once() {
    let redis = RedisServer::start().unwrap();
    let plan = FaultPlan::new().then_times(Fault::DelayMs(700), 10);
    let sandbox = Sandbox::builder().faults(plan).spawn_blocking().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            verify_cmd(&sandbox.base_url(), &redis.url(), &[])
                .spawn()
                .unwrap()
        })
        .collect();
    let runs: Vec<_> = children.into_iter().map(|c| wait_at_most(c, 30)).collect();
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let (idcard, mobile) = demo::MATCH;
    assert_eq!(sandbox.pair_count(idcard, mobile).billed, 1);
    let first = order_id(&runs[0].stdout);
    assert!(runs.iter().all(|r| order_id(&r.stdout) == first));

    // --dedupe-ttl 0 (the default): a later call sends again.
    let later = wait_at_most(
        verify_cmd(&sandbox.base_url(), &redis.url(), &[])
            .spawn()
            .unwrap(),
        30,
    );
    assert_eq!(later.code, 0, "{}", later.stderr);
    assert_ne!(order_id(&later.stdout), first);
    assert_eq!(sandbox.pair_count(idcard, mobile).billed, 2);

    // --dedupe-ttl 60: the next answer is kept, and a later call reuses it.
    let keep = ["--dedupe-ttl", "60"];
    let kept = wait_at_most(
        verify_cmd(&sandbox.base_url(), &redis.url(), &keep)
            .spawn()
            .unwrap(),
        30,
    );
    let reused = wait_at_most(
        verify_cmd(&sandbox.base_url(), &redis.url(), &keep)
            .spawn()
            .unwrap(),
        30,
    );
    assert_eq!(order_id(&reused.stdout), order_id(&kept.stdout));
    assert_eq!(sandbox.pair_count(idcard, mobile).billed, 3);
}

/// Three batch processes of `rows` rows each, sharing `--qps`; returns (elapsed, their runs).
fn three_batches(
    sandbox: &str,
    redis: &str,
    qps: &str,
    rows: usize,
    dir: &std::path::Path,
) -> (Duration, Vec<common::Run>) {
    let started = Instant::now();
    let children: Vec<_> = (0..3)
        .map(|p| {
            let input = dir.join(format!("in{p}.csv"));
            write_csv(
                &input,
                &pairs_from(&format!("11010519{}", 80 + p), "130", rows),
            );
            let mut cmd = batch_cmd(
                sandbox,
                demo::API_KEY,
                &["--redis", redis],
                &input,
                &dir.join(format!("out{p}.csv")),
            );
            cmd.args(["--qps", qps, "--concurrency", "16"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let runs = children.into_iter().map(|c| wait_at_most(c, 120)).collect();
    (started.elapsed(), runs)
}

#[test]
fn three_processes_share_one_qps_budget() {
    let redis = RedisServer::start().unwrap();
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .qps_limit(Some(50))
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (elapsed, runs) = three_batches(&sandbox.base_url(), &redis.url(), "50", 100, dir.path());
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let stats = sandbox.stats();
    assert_eq!(stats.by_error_code.get(&10012), None, "{stats:?}");
    assert_eq!(stats.billed, 300);
    // 300 checks at 50/s take 6 s; the processes' start-up adds a little.
    let rate = 300.0 / elapsed.as_secs_f64();
    assert!((40.0..=50.0).contains(&rate), "{rate:.1}/s in {elapsed:?}");
}

#[test]
fn redis_killed_mid_batch_the_batch_finishes_on_the_local_limit() {
    let mut redis = RedisServer::start().unwrap();
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, &pairs_from("1101051985", "130", 150));
    let mut cmd = batch_cmd(
        &sandbox.base_url(),
        demo::API_KEY,
        &["--redis", &redis.url()],
        &input,
        &dir.path().join("out.csv"),
    );
    cmd.args(["--qps", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    redis.stop();
    let run = wait_at_most(child, 60);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("unreachable"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(sandbox.stats().billed, 150);
}

#[test]
fn redis_holds_no_id_or_mobile_number_after_a_run() {
    let redis = RedisServer::start().unwrap();
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rows = pairs_from("1101051985", "131", 40);
    let input = dir.path().join("in.csv");
    write_csv(&input, &rows);
    let mut cmd = batch_cmd(
        &sandbox.base_url(),
        demo::API_KEY,
        &[
            "--redis",
            &redis.url(),
            "--qps",
            "200",
            "--dedupe-ttl",
            "600",
        ],
        &input,
        &dir.path().join("out.csv"),
    );
    let run = common::run(&mut cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let keys = redis.keys().unwrap();
    assert_eq!(keys.len(), 41, "{keys:?}");
    for key in keys {
        assert!(!key.contains(demo::API_KEY), "{key}");
        for (id, mobile) in &rows {
            // Whole, masked (first and last digits), or any 6-digit part of either number.
            for part in [&id[..6], &id[14..], &mobile[..3], &mobile[7..]] {
                let run: String = part.chars().filter(char::is_ascii_digit).collect();
                assert!(run.len() < 6 || !key.contains(&run), "{key}");
            }
            assert!(
                !key.contains(id.as_str()) && !key.contains(mobile.as_str()),
                "{key}"
            );
        }
        let digits: String = key.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(digits, "2", "{key}: no digit but the prefix's");
    }
    // A second run of the same rows is answered from Redis: nothing more billed.
    let again = dir.path().join("again.csv");
    let mut cmd = batch_cmd(
        &sandbox.base_url(),
        demo::API_KEY,
        &["--redis", &redis.url(), "--dedupe-ttl", "600"],
        &input,
        &again,
    );
    let run = common::run(&mut cmd);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("40 row(s) got another process's answer"),
        "{}",
        run.stderr
    );
    assert_eq!(sandbox.stats().billed, 40);
}

/// Waits until the fleet holds a pair (a holder claimed it).
fn until_a_pair_is_held(redis: &RedisServer) {
    let started = Instant::now();
    while !redis
        .keys()
        .unwrap()
        .iter()
        .any(|k| k.starts_with("juhe2fa:pair:"))
    {
        assert!(started.elapsed() < Duration::from_secs(20), "no pair held");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_holder_killed_after_sending_makes_waiters_ambiguous_within_seconds() {
    let redis = RedisServer::start().unwrap();
    // The holder's request stays on the wire until the holder is killed.
    let plan = FaultPlan::new().then(Fault::DelayMs(40_000));
    let sandbox = Sandbox::builder().faults(plan).spawn_blocking().unwrap();
    let mut holder = verify_cmd(&sandbox.base_url(), &redis.url(), &["--timeout", "60"])
        .spawn()
        .unwrap();
    until_a_pair_is_held(&redis);
    std::thread::sleep(Duration::from_millis(500));
    holder.kill().unwrap(); // SIGKILL: no chance to settle
    holder.wait().unwrap();
    let started = Instant::now();
    let waiter = wait_at_most(
        verify_cmd(&sandbox.base_url(), &redis.url(), &[])
            .spawn()
            .unwrap(),
        30,
    );
    // The pair may have been billed: the waiter sends nothing and says so, within a lease.
    assert_eq!(waiter.code, 5, "{}", waiter.stderr);
    let said = format!("{}{}", waiter.stdout, waiter.stderr);
    assert!(said.contains("may have been billed"), "{said}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sandbox.stats().requests, 0, "the waiter sent nothing");
}

#[test]
fn a_holder_killed_before_sending_is_taken_over_within_seconds() {
    let redis = RedisServer::start().unwrap();
    let sandbox = Sandbox::builder().spawn_blocking().unwrap();
    let qps = ["--qps", "0.05"];
    // Another pair takes the fleet's one slot for the next 20 s.
    let (idcard, mobile) = demo::MISMATCH;
    let mut first = bin();
    first
        .env("JUHE_KEY", demo::API_KEY)
        .env("JUHE_REDIS_URL", redis.url())
        .args(["--base-url", &sandbox.base_url()])
        .args(qps)
        .args(["verify", "--idcard", idcard, "--mobile", mobile]);
    assert_eq!(common::run(&mut first).code, 1);
    // The holder claims the pair, then waits for a slot; it is killed while waiting.
    let mut holder = verify_cmd(&sandbox.base_url(), &redis.url(), &qps)
        .spawn()
        .unwrap();
    until_a_pair_is_held(&redis);
    holder.kill().unwrap();
    holder.wait().unwrap();
    let started = Instant::now();
    let waiter = wait_at_most(
        verify_cmd(&sandbox.base_url(), &redis.url(), &[])
            .spawn()
            .unwrap(),
        30,
    );
    assert_eq!(waiter.code, 0, "{}", waiter.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let (idcard, mobile) = demo::MATCH;
    assert_eq!(sandbox.pair_count(idcard, mobile).billed, 1);
}

#[test]
fn a_wrong_redis_password_exits_2_and_sends_nothing() {
    let redis = RedisServer::start_with_args(&["--requirepass", "right-password"]).unwrap();
    let sandbox = Sandbox::builder().spawn_blocking().unwrap();
    let url = format!("redis://:wrong-password@127.0.0.1:{}/", redis.port());
    let run = wait_at_most(
        verify_cmd(&sandbox.base_url(), &url, &[]).spawn().unwrap(),
        30,
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("password") && !said.contains("wrong-password"),
        "{said}"
    );
    assert_eq!(sandbox.stats().requests, 0);
}

#[test]
fn a_dead_holders_ambiguous_pair_stays_ambiguous_as_long_as_answers_are_kept() {
    let redis = RedisServer::start().unwrap();
    let plan = FaultPlan::new().then(Fault::DelayMs(40_000));
    let sandbox = Sandbox::builder().faults(plan).spawn_blocking().unwrap();
    let keep = ["--dedupe-ttl", "600", "--timeout", "60"];
    let mut holder = verify_cmd(&sandbox.base_url(), &redis.url(), &keep)
        .spawn()
        .unwrap();
    until_a_pair_is_held(&redis);
    std::thread::sleep(Duration::from_millis(500));
    holder.kill().unwrap();
    holder.wait().unwrap();
    // Nobody waits now: the first caller finds the lease run out, later ones the outcome kept.
    for _ in 0..2 {
        let later = wait_at_most(
            verify_cmd(&sandbox.base_url(), &redis.url(), &keep)
                .spawn()
                .unwrap(),
            30,
        );
        assert_eq!(later.code, 5, "{}{}", later.stdout, later.stderr);
    }
    assert_eq!(sandbox.stats().requests, 0, "nobody sent it again");
}

#[test]
fn a_stopped_batch_frees_the_pairs_it_held() {
    let redis = RedisServer::start().unwrap();
    let sandbox = Sandbox::builder()
        .default_verdict(DefaultVerdict::Match)
        .spawn_blocking()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    write_csv(&input, &pairs_from("3101041985", "131", 12));
    let output = dir.path().join("out.csv");
    let global = ["--qps", "0.5"];
    let child = batch_cmd(&sandbox.base_url(), demo::API_KEY, &global, &input, &output)
        .env("JUHE_REDIS_URL", redis.url())
        .args(["--concurrency", "8"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until_a_pair_is_held(&redis);
    std::thread::sleep(Duration::from_millis(1500));
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    wait_at_most(child, 30);
    let held: Vec<String> = redis
        .keys()
        .unwrap()
        .into_iter()
        .filter(|k| k.starts_with("juhe2fa:pair:"))
        .collect();
    assert!(held.is_empty(), "pairs left held: {held:?}");
}
