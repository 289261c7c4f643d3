//! The write path (docs/API.md, "Write path and crash safety"): upload to a fresh key, then
//! compare-and-set the row, then delete the previous object — and the limits around it
//! (body size, body idle timeout, uploads in progress).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::api::{AppState, MIN_BLOB_BYTES, unavailable};
use crate::extract::Precondition;
use crate::failpoint;
use crate::problem::{Problem, ProblemKind};
use crate::storage::{self, BackupRow, NewObject, StorageError};

/// Once the client's last byte went to S3 (or while S3 does not ask for the next one), S3
/// has this long to move on before the upload is given up as 503. The client's own pace is
/// judged by the body idle timeout instead.
const S3_STALL: Duration = Duration::from_secs(30);

/// Seconds a 429/503 for too many uploads asks the client to wait.
const RETRY_AFTER_SECS: u64 = 1;

// ---------------------------------------------------------------------------------------
// Request checks before a byte is read.

/// `Content-Length` checked against the size rules; `None` for a chunked body.
pub fn declared_length(headers: &HeaderMap, limit: u64) -> Result<Option<u64>, Problem> {
    let Some(v) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(None);
    };
    let n = v
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| Problem::new(ProblemKind::InvalidBody, "Content-Length is not a number"))?;
    if n > limit {
        return Err(too_large(limit, Some(n)));
    }
    if n < MIN_BLOB_BYTES {
        return Err(too_small(n));
    }
    Ok(Some(n))
}

/// The version the compare-and-set must find (`None`: create), or the 409 a doomed write
/// gets before uploading. The compare-and-set still decides races.
pub fn expected_version(
    pre: Option<Precondition>,
    current: Option<&BackupRow>,
) -> Result<Option<i64>, Problem> {
    match (pre, current) {
        (None, None) => Ok(None),
        (None, Some(r)) => Err(Problem::conflict(
            Some(r.version),
            format!(
                "a backup exists (version {}); send If-Match: \"{}\" to replace it",
                r.version, r.version
            ),
        )),
        (Some(Precondition::Any), Some(r)) => Ok(Some(r.version)),
        (Some(Precondition::Version(v)), Some(r)) if v == r.version => Ok(Some(v)),
        (Some(Precondition::Version(v)), Some(r)) => Err(Problem::conflict(
            Some(r.version),
            format!(
                "If-Match names version {v} but the current version is {}",
                r.version
            ),
        )),
        (Some(_), None) => Err(Problem::conflict(
            None,
            "no backup exists; create one with POST without If-Match",
        )),
    }
}

fn too_large(limit: u64, declared: Option<u64>) -> Problem {
    let what = match declared {
        Some(n) => format!("Content-Length {n}"),
        None => "the body".to_owned(),
    };
    Problem::new(
        ProblemKind::BodyTooLarge,
        format!("{what} exceeds the limit of {limit} bytes"),
    )
}

fn too_small(n: u64) -> Problem {
    Problem::new(
        ProblemKind::BodyTooSmall,
        format!("the body has {n} bytes; a backup needs at least {MIN_BLOB_BYTES}"),
    )
}

fn body_timeout(idle: Duration, received: u64) -> Problem {
    Problem::new(
        ProblemKind::BodyTimeout,
        format!(
            "no body byte arrived for {} ms (after {received} bytes); nothing was stored, send the backup again",
            idle.as_millis()
        ),
    )
}

/// The answer to a stalled upload body: 408, or with `--unsafe-stall-is-unavailable` the
/// 503 the server gave when its S3 client judged the client's pace.
fn stalled(st: &AppState, idle: Duration, received: u64) -> Problem {
    if st.config.unsafe_flags.stall_is_unavailable {
        tracing::warn!("--unsafe-stall-is-unavailable: answering a stalled body 503");
        return Problem::unavailable("S3");
    }
    body_timeout(idle, received)
}

// ---------------------------------------------------------------------------------------
// Uploads in progress.

/// Counts uploads in progress, in total and per user. Full means an immediate answer with
/// `Retry-After`, never a queue: a waiting upload would hold its connection and body anyway.
#[derive(Debug)]
pub struct UploadSlots {
    max_total: usize,
    max_per_user: usize,
    counts: Mutex<(usize, HashMap<String, usize>)>,
}

/// One upload's place; freed on drop, whatever happened.
pub struct UploadSlot<'a> {
    slots: &'a UploadSlots,
    user: String,
}

impl UploadSlots {
    pub fn new(max_total: usize, max_per_user: usize) -> UploadSlots {
        UploadSlots {
            max_total,
            max_per_user,
            counts: Mutex::new((0, HashMap::new())),
        }
    }

    pub fn acquire(&self, user: &str) -> Result<UploadSlot<'_>, Problem> {
        let mut guard = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per_user) = &mut *guard;
        let mine = per_user.get(user).copied().unwrap_or(0);
        if mine >= self.max_per_user {
            return Err(Problem::new(
                ProblemKind::TooManyUploads,
                format!(
                    "this user already has {mine} uploads in progress (the limit); retry after one ends"
                ),
            )
            .retry_after(RETRY_AFTER_SECS));
        }
        if *total >= self.max_total {
            return Err(Problem::new(
                ProblemKind::ServerBusy,
                format!(
                    "the server has {total} uploads in progress (the limit); nothing was changed, retry later"
                ),
            )
            .retry_after(RETRY_AFTER_SECS));
        }
        *total += 1;
        *per_user.entry(user.to_owned()).or_insert(0) += 1;
        Ok(UploadSlot {
            slots: self,
            user: user.to_owned(),
        })
    }
}

impl Drop for UploadSlot<'_> {
    fn drop(&mut self) {
        let mut guard = self.slots.counts.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per_user) = &mut *guard;
        *total = total.saturating_sub(1);
        if let Some(n) = per_user.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                per_user.remove(&self.user);
            }
        }
    }
}

/// Removes a key from the in-flight set when the request is done with it, whatever happened.
struct InflightGuard<'a> {
    st: &'a AppState,
    key: String,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.st.inflight.lock() {
            set.remove(&self.key);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The body on its way to S3.

/// Why the client's body failed (as opposed to S3).
#[derive(Debug)]
enum BodyFault {
    Idle,
    Invalid(String),
}

#[derive(Debug)]
struct Tap {
    hasher: Sha256,
    count: u64,
    finished: bool,
    fault: Option<BodyFault>,
    /// The last time S3 asked for body bytes (or the body finished).
    last_activity: Instant,
    /// The last poll found the client had nothing yet (the idle timer runs).
    waiting_on_client: bool,
}

/// The request body and what passed through it, shared between the S3 upload and the
/// handler (which takes the body back if the upload stopped early).
struct Feed {
    body: Body,
    tap: Tap,
}

/// The request body on its way to S3: hashed and counted as it passes, with an exact size
/// hint so the S3 PUT carries `Content-Length` and the bytes are never held whole. Its idle
/// timer is the server's judgement of the client's pace.
struct HashingBody {
    feed: Arc<Mutex<Feed>>,
    expected: u64,
    idle: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl hyper::body::Body for HashingBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let mut feed = this.feed.lock().unwrap_or_else(|p| p.into_inner());
        let Feed { body, tap } = &mut *feed;
        tap.last_activity = Instant::now();
        loop {
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Pending => {
                    tap.waiting_on_client = true;
                    let idle = this.idle;
                    let timer = this
                        .timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                    if timer.as_mut().poll(cx).is_ready() {
                        tap.fault = Some(BodyFault::Idle);
                        return Poll::Ready(Some(Err("the client's body stalled".into())));
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Some(Ok(frame))) => {
                    tap.waiting_on_client = false;
                    this.timer = None;
                    match frame.into_data() {
                        Ok(data) => {
                            tap.count += data.len() as u64;
                            if tap.count > this.expected {
                                tap.fault = Some(BodyFault::Invalid(
                                    "the body is longer than its Content-Length".into(),
                                ));
                                return Poll::Ready(Some(Err(
                                    "body longer than Content-Length".into()
                                )));
                            }
                            tap.hasher.update(&data);
                            // The HTTP client stops polling once the exact size hint is
                            // reached, so the end is recognised by count, not by `None`.
                            tap.finished = tap.count == this.expected;
                            return Poll::Ready(Some(Ok(Frame::data(data))));
                        }
                        // Request trailers have no meaning here; S3 must not see them.
                        Err(_) => continue,
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    tap.waiting_on_client = false;
                    tap.fault = Some(BodyFault::Invalid(format!(
                        "reading the request body failed: {e}"
                    )));
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Ready(None) => {
                    tap.waiting_on_client = false;
                    if tap.count != this.expected {
                        tap.fault = Some(BodyFault::Invalid(format!(
                            "the body ended after {} of {} bytes",
                            tap.count, this.expected
                        )));
                        return Poll::Ready(Some(Err("body shorter than Content-Length".into())));
                    }
                    tap.finished = true;
                    return Poll::Ready(None);
                }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.expected)
    }
}

/// Resolves when S3 has neither asked for body bytes nor answered for [`S3_STALL`] while
/// the client was not the one keeping it waiting.
async fn s3_stalled(feed: &Mutex<Feed>) {
    loop {
        let (waiting, last) = {
            let f = feed.lock().unwrap_or_else(|p| p.into_inner());
            (f.tap.waiting_on_client, f.tap.last_activity)
        };
        if !waiting && last.elapsed() >= S3_STALL {
            return;
        }
        // While the client is slow its idle timer decides; look again a stall period later.
        let next = if waiting {
            Instant::now() + S3_STALL
        } else {
            last + S3_STALL
        };
        tokio::time::sleep_until(next).await;
    }
}

struct Uploaded {
    size: u64,
    sha256: String,
}

/// Streams the body to `key`. Known length: straight through to S3. Unknown length
/// (chunked): spooled to a temp file of at most `max_blob_bytes`, stopping at limit + 1.
async fn upload(
    st: &AppState,
    key: &str,
    length: Option<u64>,
    body: Body,
) -> Result<Uploaded, Problem> {
    match length {
        Some(len) => upload_streamed(st, key, len, body).await,
        None => upload_spooled(st, key, body).await,
    }
}

async fn upload_streamed(
    st: &AppState,
    key: &str,
    len: u64,
    body: Body,
) -> Result<Uploaded, Problem> {
    let bucket = &st.config.s3_bucket;
    let idle = st.config.body_idle_timeout;
    let feed = Arc::new(Mutex::new(Feed {
        body,
        tap: Tap {
            hasher: Sha256::new(),
            count: 0,
            finished: false,
            fault: None,
            last_activity: Instant::now(),
            waiting_on_client: false,
        },
    }));
    let hb = HashingBody {
        feed: feed.clone(),
        expected: len,
        idle,
        timer: None,
    };
    let put = storage::put_stream(
        &st.s3,
        bucket,
        key,
        len as i64,
        ByteStream::from_body_1_x(hb),
    );
    let res = tokio::select! {
        res = put => res,
        () = s3_stalled(&feed) => Err(StorageError::S3(format!(
            "S3 neither read the body nor answered for {} s", S3_STALL.as_secs()
        ))),
    };
    let lock = || feed.lock().unwrap_or_else(|p| p.into_inner());
    // Guards are never held across an await: the handler's future must stay `Send`.
    let (fault, count) = {
        let mut f = lock();
        (f.tap.fault.take(), f.tap.count)
    };
    if let Some(fault) = fault {
        // S3 PUTs are all-or-nothing, but delete anyway in case a store kept a part.
        let _ = storage::delete_object(&st.s3, bucket, key).await;
        return Err(match fault {
            BodyFault::Idle => stalled(st, idle, count),
            BodyFault::Invalid(why) => Problem::new(ProblemKind::InvalidBody, why),
        });
    }
    if let Err(e) = res {
        if !st.config.unsafe_flags.commit_on_failed_put {
            return Err(unavailable(e));
        }
        // The broken variant: read what S3 did not, and go on as if it had been stored.
        tracing::warn!(error = %e, "--unsafe-commit-on-failed-put: committing anyway");
        let mut rest = std::mem::replace(&mut lock().body, Body::empty());
        while let Some(Ok(frame)) = rest.frame().await {
            if let Ok(data) = frame.into_data() {
                let mut f = lock();
                f.tap.count += data.len() as u64;
                f.tap.hasher.update(&data);
            }
        }
        lock().tap.finished = true;
    }
    let (finished, size, sha256) = {
        let mut f = lock();
        let sha = hex::encode(std::mem::take(&mut f.tap.hasher).finalize());
        (f.tap.finished, f.tap.count, sha)
    };
    if !finished {
        let _ = storage::delete_object(&st.s3, bucket, key).await;
        return Err(Problem::new(
            ProblemKind::Internal,
            "S3 accepted a body it did not read fully",
        ));
    }
    Ok(Uploaded { size, sha256 })
}

async fn upload_spooled(st: &AppState, key: &str, mut body: Body) -> Result<Uploaded, Problem> {
    let limit = st.config.max_blob_bytes;
    let idle = st.config.body_idle_timeout;
    let spool = tempfile::NamedTempFile::new_in(&st.config.spool_dir).map_err(|e| {
        tracing::error!(error = %e, "cannot create a spool file");
        Problem::new(
            ProblemKind::Internal,
            "the server cannot create a spool file",
        )
    })?;
    let io_err = |e: std::io::Error| {
        tracing::error!(error = %e, "spool write failed");
        Problem::new(
            ProblemKind::Internal,
            "the server cannot write its spool file",
        )
    };
    let mut file = tokio::fs::File::from_std(spool.reopen().map_err(io_err)?);
    let mut hasher = Sha256::new();
    let mut count: u64 = 0;
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(stalled(st, idle, count)),
            Ok(None) => break,
            Ok(Some(frame)) => frame,
        };
        let frame = frame.map_err(|e| {
            Problem::new(
                ProblemKind::InvalidBody,
                format!("reading the request body failed: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        count += data.len() as u64;
        if count > limit {
            return Err(too_large(limit, None));
        }
        hasher.update(&data);
        file.write_all(&data).await.map_err(io_err)?;
    }
    file.flush().await.map_err(io_err)?;
    drop(file);
    if count < MIN_BLOB_BYTES {
        return Err(too_small(count));
    }
    let put = storage::put_file(
        &st.s3,
        &st.config.s3_bucket,
        key,
        spool.path(),
        count as i64,
    )
    .await;
    if let Err(e) = put {
        if !st.config.unsafe_flags.commit_on_failed_put {
            return Err(unavailable(e));
        }
        tracing::warn!(error = %e, "--unsafe-commit-on-failed-put: committing anyway");
    }
    Ok(Uploaded {
        size: count,
        sha256: hex::encode(hasher.finalize()),
    })
}

// ---------------------------------------------------------------------------------------
// Upload, compare-and-set, cleanup.

/// What a successful write stored.
pub struct Written {
    pub version: i64,
    pub size: u64,
    pub sha256: String,
    pub updated_at: DateTime<Utc>,
}

/// Deletes an object this request wrote but did not commit.
async fn discard(st: &AppState, key: &str) {
    let flags = st.config.unsafe_flags;
    if flags.overwrite_in_place || flags.never_delete_objects {
        // In place, the one key per user is (wrongly) the live object too.
        return;
    }
    if let Err(e) = storage::delete_object(&st.s3, &st.config.s3_bucket, key).await {
        tracing::warn!(error = %e, "deleting an uncommitted object failed; the sweeper will remove it");
    }
}

/// Uploads `body` to a fresh key, installs it as `expected + 1` (or version 1) and deletes
/// the object it replaced.
pub async fn write(
    st: &AppState,
    user: &str,
    expected: Option<i64>,
    length: Option<u64>,
    body: Body,
) -> Result<Written, Problem> {
    let _slot = st.uploads.acquire(user)?;
    let key = if st.config.unsafe_flags.overwrite_in_place {
        format!("backups/{user}")
    } else {
        format!("backups/{user}/{}", uuid::Uuid::new_v4())
    };
    st.inflight
        .lock()
        .map_err(|_| Problem::new(ProblemKind::Internal, "state lock poisoned"))?
        .insert(key.clone());
    let _guard = InflightGuard {
        st,
        key: key.clone(),
    };

    let up = upload(st, &key, length, body).await?;
    if let Err(e) = failpoint::hit("after_s3_put") {
        discard(st, &key).await;
        return Err(unavailable(e));
    }

    let obj = NewObject {
        user,
        key: &key,
        size: up.size as i64,
        sha256: &up.sha256,
    };
    let committed = match storage::compare_and_set(&st.db, expected, &obj).await {
        Ok(c) => c,
        Err(e) => {
            // Not committed (or unknown: then the sweeper keeps the object only if a row
            // references it, so deleting here could break a committed row — leave it).
            if !matches!(e, StorageError::Database(_)) {
                discard(st, &key).await;
            }
            return Err(unavailable(e));
        }
    };
    let Some(done) = committed else {
        discard(st, &key).await;
        let now = storage::current(&st.db, user).await.map_err(unavailable)?;
        return Err(Problem::conflict(
            now.as_ref().map(|r| r.version),
            "another writer replaced the backup first; fetch, merge and retry",
        ));
    };

    if let Err(e) = failpoint::hit("after_commit") {
        // Committed: the previous object is left for the sweeper.
        tracing::warn!(error = %e, "skipping the delete of the previous object");
    } else if let Some(prev) = &done.previous_key
        && !st.config.unsafe_flags.never_delete_objects
        && let Err(e) = storage::delete_object(&st.s3, &st.config.s3_bucket, prev).await
    {
        tracing::warn!(error = %e, "deleting the previous object failed; the sweeper will remove it");
    }
    Ok(Written {
        version: done.version,
        size: up.size,
        sha256: up.sha256,
        updated_at: done.updated_at,
    })
}
