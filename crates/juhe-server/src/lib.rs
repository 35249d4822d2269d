//! Hardened HTTP/1 serving for an axum [`Router`], shared by juhe-2fa's sandbox and gateway:
//! hyper per connection, so a handler can drop its connection ([`ConnControl`]) and shutdown
//! can be graceful.
//!
//! Slow clients are bounded three ways: hyper's header timeout (which also bounds idling
//! between requests); a whole-request deadline and a minimum body rate, enforced here while
//! the body is read (before the router sees it); and, at the connection cap, closing the
//! connection that has been stalled longest, so a crowd of trickling clients cannot keep a
//! normal one waiting for their timeouts. Bodies over [`Limits::body_limit`] are refused
//! before they are read. With feature `tls`, connections are TLS (rustls), the handshake
//! bounded by the header timeout.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Time a body may take to start before the minimum rate applies.
pub const BODY_RATE_GRACE: Duration = Duration::from_secs(1);
/// At the cap, a connection idle or reading one request for this long may be closed to make
/// room; a normal request is read in milliseconds.
pub const STALLED_AFTER: Duration = Duration::from_secs(1);
/// Longer timeouts are taken as this (an `Instant` plus `Duration::MAX` would overflow).
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// Connections the kernel may hold ready for `accept` (capped by the OS, e.g. Linux's
/// `somaxconn`). The usual 128 overflows in a burst of connections, and a client whose SYN is
/// dropped waits 1 s, then 3 s, before it tries again.
const BACKLOG: u32 = 1024;
/// Warnings about the cap at most this often, so an attack does not flood the log.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// What keeps slow, idle or greedy clients from taking the server down.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Limits {
    /// Connections open at once; at the cap the most stalled one is closed to make room.
    pub max_connections: usize,
    /// Time to send a request's headers, and to idle between requests (and, with TLS, to
    /// finish the handshake).
    pub header_timeout: Duration,
    /// From a request's first byte to the end of its body.
    pub request_timeout: Duration,
    /// Bytes per second a body must keep up after [`BODY_RATE_GRACE`]; 0: no minimum.
    pub min_body_rate: u32,
    /// The largest request body, in bytes (larger: 413, unread).
    pub body_limit: usize,
    /// After shutdown is asked for, how long requests in progress may take to finish before
    /// their connections are closed.
    pub grace: Duration,
}

impl Default for Limits {
    /// 1,024 connections, 10 s for headers, 30 s a request, 1 KiB/s, 64 KiB bodies, 5 s grace.
    fn default() -> Limits {
        Limits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            min_body_rate: 1024,
            body_limit: 64 * 1024,
            grace: Duration::from_secs(5),
        }
    }
}

/// Why a request body was refused while it was read (before the router saw it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// It came too slowly (the minimum rate, or the request deadline): 408.
    TooSlow,
    /// It is larger than [`Limits::body_limit`]: 413.
    TooLarge,
    /// It could not be read (a broken chunked encoding, a reset): 400.
    Broken,
}

impl Refusal {
    /// The status to answer with.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::TooSlow => StatusCode::REQUEST_TIMEOUT,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Broken => StatusCode::BAD_REQUEST,
        }
    }

    /// A short reason in English.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::TooSlow => "request body too slow",
            Refusal::TooLarge => "request body too large",
            Refusal::Broken => "request body unreadable",
        }
    }
}

/// Lets a handler close its connection without answering: `notify_one` on the inner
/// [`Notify`]. Every request carries one as an extension.
#[derive(Clone)]
pub struct ConnControl(pub Arc<Notify>);

/// How [`serve`] serves: limits, the answer to a refused body, TLS.
#[derive(Clone)]
pub struct Options {
    /// The limits.
    pub limits: Limits,
    /// The answer to a body refused while it was read (the server's own error format);
    /// `Connection: close` is added.
    pub refuse: fn(Refusal) -> Response,
    /// TLS for every connection (feature `tls`).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Options {
    /// These limits, refusals answered by `refuse`, no TLS.
    pub fn new(limits: Limits, refuse: fn(Refusal) -> Response) -> Options {
        Options {
            limits,
            refuse,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// What a connection is doing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request: a new connection, or keep-alive between requests.
    Idle,
    /// Reading a request, headers or body.
    Reading,
    /// A whole request is with the handler: never closed to make room.
    Handling,
}

/// One connection's phase and since when, shared by its socket, its service and the
/// accept loop.
struct Activity {
    phase: Mutex<(Phase, Instant)>,
    /// Wakes the connection task to close the socket unanswered (`drop` fault, or room made).
    close: Arc<Notify>,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            phase: Mutex::new((Phase::Idle, Instant::now())),
            close: Arc::new(Notify::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Phase, Instant)> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, phase: Phase) {
        *self.lock() = (phase, Instant::now());
    }

    /// Bytes came in: an idle connection has started a request.
    fn bytes_read(&self) {
        let mut phase = self.lock();
        if phase.0 == Phase::Idle {
            *phase = (Phase::Reading, Instant::now());
        }
    }

    /// When the request now being served started: its first byte, or now when its bytes came
    /// in with the previous request's (pipelining).
    fn request_started(&self) -> Instant {
        let mut phase = self.lock();
        if phase.0 != Phase::Reading {
            *phase = (Phase::Reading, Instant::now());
        }
        phase.1
    }

    /// Since when the connection has been stalled, if it may be closed to make room.
    fn stalled_since(&self) -> Option<Instant> {
        let (phase, since) = *self.lock();
        (phase != Phase::Handling).then_some(since)
    }
}

/// The open connections, to find the most stalled one at the cap.
#[derive(Default)]
struct Registry {
    conns: Mutex<HashMap<u64, Arc<Activity>>>,
    next_id: AtomicU64,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, activity: Arc<Activity>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, activity);
        id
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Closes the connection that has been idle or reading one request longest, if that is
    /// at least [`STALLED_AFTER`]. Whether one was closed.
    fn close_most_stalled(&self) -> bool {
        let Some(cutoff) = Instant::now().checked_sub(STALLED_AFTER) else {
            return false;
        };
        let mut conns = self.lock();
        let oldest = conns
            .iter()
            .filter_map(|(id, a)| Some((a.stalled_since()?, *id)))
            .filter(|(since, _)| *since <= cutoff)
            .min();
        let Some((_, id)) = oldest else {
            return false;
        };
        if let Some(activity) = conns.remove(&id) {
            activity.close.notify_one();
        }
        true
    }
}

/// A listening socket on `addr` with a deep accept queue (1,024, capped by the OS).
pub fn bind(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted sandbox can take its port back at once.
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Where connections are served: a runtime, and the router of the connections it serves.
#[derive(Clone)]
pub struct Worker {
    /// The runtime the connections' tasks run on.
    pub runtime: tokio::runtime::Handle,
    /// The router its connections use.
    pub router: Router,
    /// Connections it serves now.
    open: Arc<AtomicUsize>,
}

impl Worker {
    /// Connections served on `runtime` with `router`.
    pub fn new(runtime: tokio::runtime::Handle, router: Router) -> Worker {
        Worker {
            runtime,
            router,
            open: Arc::default(),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` changes: then stops accepting, lets the
/// requests in progress finish within [`Limits::grace`], and returns. The connections run on
/// the current runtime.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: watch::Receiver<bool>,
    options: Options,
) {
    let here = Worker::new(tokio::runtime::Handle::current(), router);
    serve_on(listener, vec![here], shutdown, options).await;
}

/// As [`serve`], each connection handed to the worker that serves the fewest: for one
/// single-threaded runtime per core, where a connection, its handler and what the handler
/// awaits stay on one thread. One accept loop (here) keeps one connection cap for all.
///
/// # Panics
/// If `workers` is empty.
pub async fn serve_on(
    listener: TcpListener,
    workers: Vec<Worker>,
    mut shutdown: watch::Receiver<bool>,
    options: Options,
) {
    assert!(!workers.is_empty(), "serve_on needs a worker");
    let limits = options.limits;
    let mut connections = JoinSet::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let registry = Arc::new(Registry::default());
    let mut warned: Option<Instant> = None;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let slot = match slots.clone().try_acquire_owned() {
                        Ok(slot) => slot,
                        Err(_) => {
                            if warned.is_none_or(|w| w.elapsed() >= WARN_EVERY) {
                                warned = Some(Instant::now());
                                tracing::warn!(
                                    max_connections = limits.max_connections,
                                    "connection cap reached; closing stalled connections to make room"
                                );
                            }
                            match make_room(&slots, &registry, &mut shutdown).await {
                                Some(slot) => slot,
                                None => break,
                            }
                        }
                    };
                    // The stream moves to the worker's runtime: it leaves this one's reactor.
                    let Ok(stream) = stream.into_std() else { continue };
                    let worker = least_busy(&workers);
                    let open = worker.open.clone();
                    open.fetch_add(1, Ordering::Relaxed);
                    let activity = Arc::new(Activity::new());
                    let id = registry.add(activity.clone());
                    let conn = start(stream, worker.router.clone(), shutdown.clone(), options.clone(), activity);
                    let registry = registry.clone();
                    connections.spawn_on(async move {
                        conn.await;
                        registry.remove(id);
                        open.fetch_sub(1, Ordering::Relaxed);
                        drop(slot);
                    }, &worker.runtime);
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(limits.grace.min(MAX_TIMEOUT), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
}

/// The worker serving the fewest connections (the first of those).
fn least_busy(workers: &[Worker]) -> &Worker {
    workers
        .iter()
        .min_by_key(|w| w.open.load(Ordering::Relaxed))
        .unwrap_or(&workers[0])
}

/// A slot for a connection accepted at the cap: the most stalled connection is closed for it,
/// or, when none is stalled yet, it waits for a slot (further connections wait in the kernel's
/// backlog meanwhile). `None` on shutdown.
async fn make_room(
    slots: &Arc<Semaphore>,
    registry: &Registry,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<OwnedSemaphorePermit> {
    loop {
        // After closing one, give it time to let go of its slot before closing another.
        let wait = if registry.close_most_stalled() {
            STALLED_AFTER
        } else {
            Duration::from_millis(100)
        };
        tokio::select! {
            slot = slots.clone().acquire_owned() => return slot.ok(),
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return None,
        }
    }
}

/// A connection just accepted: its TLS handshake (bounded by the header timeout), then HTTP.
async fn start(
    stream: std::net::TcpStream,
    router: Router,
    shutdown: watch::Receiver<bool>,
    options: Options,
    activity: Arc<Activity>,
) {
    let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let stream = Tracked {
        stream,
        activity: activity.clone(),
    };
    #[cfg(feature = "tls")]
    if let Some(tls) = &options.tls {
        let wait = options.limits.header_timeout.min(MAX_TIMEOUT);
        let handshake = tokio::time::timeout(wait, tls.accept(stream));
        let stream = tokio::select! {
            done = handshake => match done {
                Ok(Ok(stream)) => stream,
                // Not TLS, a bad certificate on the client's side, too slow: nothing to answer.
                Ok(Err(_)) | Err(_) => return,
            },
            _ = activity.close.notified() => return,
        };
        // The handshake's bytes are not a request.
        activity.set(Phase::Idle);
        return connection(stream, router, shutdown, options, activity).await;
    }
    connection(stream, router, shutdown, options, activity).await
}

async fn connection<S>(
    io: S,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
    options: Options,
    activity: Arc<Activity>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = options.limits;
    let refuse = options.refuse;
    let control = ConnControl(activity.close.clone());
    let served = activity.clone();
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let router = router.clone();
        let control = control.clone();
        let activity = served.clone();
        async move {
            let response = match read_whole(request, &activity, limits, refuse).await {
                Ok(mut request) => {
                    activity.set(Phase::Handling);
                    request.extensions_mut().insert(control);
                    router.oneshot(request).await.unwrap_or_else(|e| match e {})
                }
                Err(refusal) => refusal,
            };
            activity.set(Phase::Idle);
            Ok::<_, Infallible>(response)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // A client that trickles its headers (or idles between requests) is cut off; the
        // headers are part of the whole request, so its deadline bounds them too.
        .header_read_timeout(
            limits
                .header_timeout
                .min(limits.request_timeout)
                .min(MAX_TIMEOUT),
        )
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            // Dropping `conn` closes the socket without an answer.
            _ = activity.close.notified() => return,
            Ok(()) = shutdown.changed() => conn.as_mut().graceful_shutdown(),
        }
    }
}

/// Reads the whole body within the request deadline and at the minimum rate, or the answer
/// that refuses it (its connection then closes: the rest of the body is not read).
async fn read_whole(
    request: http::Request<Incoming>,
    activity: &Activity,
    limits: Limits,
    refuse: fn(Refusal) -> Response,
) -> Result<http::Request<Body>, Response> {
    let started = activity.request_started();
    let (parts, body) = request.into_parts();
    let refusal = match collect(body, started, limits).await {
        Ok(bytes) => return Ok(http::Request::from_parts(parts, Body::from(bytes))),
        Err(refusal) => refusal,
    };
    // The path is not logged: it is the client's to fill.
    tracing::debug!(status = %refusal.status(), "request refused while reading its body");
    let mut response = refuse(refusal);
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    Err(response)
}

async fn collect(mut body: Incoming, started: Instant, limits: Limits) -> Result<Vec<u8>, Refusal> {
    let announced = body.size_hint().exact().unwrap_or(0);
    if announced > limits.body_limit as u64 {
        return Err(Refusal::TooLarge);
    }
    let body_start = Instant::now();
    let deadline = started + limits.request_timeout.min(MAX_TIMEOUT);
    let mut bytes = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    loop {
        if body.is_end_stream() {
            return Ok(bytes);
        }
        // The next data must come before the deadline and before what has arrived so far
        // falls below the minimum rate.
        let mut until = deadline;
        if limits.min_body_rate > 0 {
            let covered =
                Duration::from_secs_f64(bytes.len() as f64 / f64::from(limits.min_body_rate));
            until = until.min(body_start + BODY_RATE_GRACE + covered.min(MAX_TIMEOUT));
        }
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        match tokio::time::timeout_at(until.into(), frame).await {
            Err(_) => return Err(Refusal::TooSlow),
            Ok(None) => return Ok(bytes),
            Ok(Some(Err(_))) => return Err(Refusal::Broken),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    if bytes.len() + data.len() > limits.body_limit {
                        return Err(Refusal::TooLarge);
                    }
                    bytes.extend_from_slice(&data);
                }
            }
        }
    }
}

/// The socket, noting when a request's first bytes come in.
struct Tracked {
    stream: tokio::net::TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.bytes_read();
        }
        poll
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two worker threads, each its own runtime: four connections open at once are served two
    /// by each, on that worker's thread.
    #[test]
    fn each_connection_goes_to_the_worker_serving_the_fewest() {
        use axum::response::IntoResponse;
        use std::io::{Read, Write};
        let mut stops = Vec::new();
        let mut workers = Vec::new();
        let mut threads = Vec::new();
        for i in 0..2 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let router = Router::new().route(
                "/",
                axum::routing::get(|| async {
                    std::thread::current().name().unwrap_or("?").to_owned()
                }),
            );
            workers.push(Worker::new(runtime.handle().clone(), router));
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            stops.push(stop);
            let thread = std::thread::Builder::new().name(format!("worker-{i}"));
            threads.push(
                thread
                    .spawn(move || runtime.block_on(async move { drop(stopped.await) }))
                    .unwrap(),
            );
        }
        let main = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let served = main.block_on(async move {
            let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            let (shutdown, stopped) = watch::channel(false);
            let options = Options::new(Limits::default(), |r| {
                (r.status(), r.reason()).into_response()
            });
            let server = tokio::spawn(serve_on(listener, workers, stopped, options));
            let served = tokio::task::spawn_blocking(move || {
                let mut open = Vec::new();
                let mut served = Vec::new();
                for _ in 0..4 {
                    let mut conn = std::net::TcpStream::connect(addr).unwrap();
                    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                        .unwrap();
                    // The body is a thread's name: `worker-N`, the answer's end.
                    let mut answer = Vec::new();
                    while !answer.ends_with(b"0") && !answer.ends_with(b"1") {
                        let mut chunk = [0u8; 512];
                        let n = conn.read(&mut chunk).unwrap();
                        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&answer));
                        answer.extend_from_slice(&chunk[..n]);
                    }
                    let answer = String::from_utf8_lossy(&answer).into_owned();
                    served.push(answer.rsplit("\r\n").next().unwrap().to_owned());
                    open.push(conn);
                }
                served
            })
            .await
            .unwrap();
            shutdown.send(true).unwrap();
            server.await.unwrap();
            served
        });
        assert_eq!(served, ["worker-0", "worker-1", "worker-0", "worker-1"]);
        drop(stops);
        for thread in threads {
            thread.join().unwrap();
        }
    }

    fn activity(phase: Phase, age: Duration) -> Arc<Activity> {
        let activity = Activity::new();
        *activity.lock() = (phase, Instant::now() - age);
        Arc::new(activity)
    }

    /// At the cap, the connection stalled longest goes first; one whose request is with the
    /// handler, or that has stalled under a second, is never closed to make room.
    #[tokio::test]
    async fn the_most_stalled_connection_makes_room() {
        let registry = Registry::default();
        let handling = activity(Phase::Handling, Duration::from_secs(60));
        let fresh = activity(Phase::Reading, Duration::from_millis(200));
        let idle = activity(Phase::Idle, Duration::from_secs(3));
        let reading = activity(Phase::Reading, Duration::from_secs(5));
        for a in [&handling, &fresh, &idle, &reading] {
            registry.add(a.clone());
        }
        // Told to close: a stored wake-up, so `notified` completes at once.
        async fn closed(a: &Activity) -> bool {
            tokio::time::timeout(Duration::from_millis(10), a.close.notified())
                .await
                .is_ok()
        }
        assert!(registry.close_most_stalled());
        assert!(closed(&reading).await, "the longest reading one first");
        assert!(!closed(&idle).await);
        assert!(registry.close_most_stalled());
        assert!(closed(&idle).await);
        assert!(!registry.close_most_stalled(), "no other may be closed");
        assert!(!closed(&handling).await && !closed(&fresh).await);
        assert_eq!(registry.lock().len(), 2);
    }
}
