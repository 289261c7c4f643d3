//! Connections: the accept loop (hyper HTTP/1 with a header-read timeout) and the lingering
//! close that lets answers sent before the body was read reach the client.
//!
//! A server that answers early (413 from `Content-Length`, 401, 400 for a bad `If-Match`, an
//! early 409, 408, 429…) and then closes while the client is still sending makes the kernel
//! answer the unread bytes with a TCP reset, and the reset destroys the answer in the
//! client's receive buffer before it reads it. So, like nginx's lingering close, every
//! connection that hyper shuts down first sends its FIN, then reads and discards what the
//! client still sends — until the client closes, [`LINGER_MAX_BYTES`] or [`LINGER_TIME`],
//! whichever comes first — and only then closes. Doing it on the socket covers every
//! handler and every early answer at once.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The most a closing connection reads and discards (docs/API.md, "Early answers").
pub const LINGER_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// The longest a closing connection waits for the client to finish sending.
pub const LINGER_TIME: Duration = Duration::from_secs(5);

enum Linger {
    /// Serving; nothing to do on close yet.
    Open,
    /// FIN sent; discarding input.
    Draining {
        deadline: Pin<Box<tokio::time::Sleep>>,
        discarded: u64,
        scratch: Box<[u8]>,
    },
    Done,
}

/// A TCP stream whose shutdown lingers (see the module docs).
pub struct LingeringStream {
    inner: TcpStream,
    linger: Linger,
    /// The client already closed its side: nothing left to drain.
    read_eof: bool,
}

impl LingeringStream {
    pub fn new(inner: TcpStream) -> LingeringStream {
        LingeringStream {
            inner,
            linger: Linger::Open,
            read_eof: false,
        }
    }
}

impl AsyncRead for LingeringStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = ready!(Pin::new(&mut this.inner).poll_read(cx, buf));
        if res.is_ok() && buf.filled().len() == before && buf.remaining() > 0 {
            this.read_eof = true;
        }
        Poll::Ready(res)
    }
}

impl AsyncWrite for LingeringStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.linger {
                Linger::Open => {
                    // The answer is written; FIN tells the client it is complete.
                    if ready!(Pin::new(&mut this.inner).poll_shutdown(cx)).is_err() || this.read_eof
                    {
                        this.linger = Linger::Done;
                        continue;
                    }
                    this.linger = Linger::Draining {
                        deadline: Box::pin(tokio::time::sleep(LINGER_TIME)),
                        discarded: 0,
                        scratch: vec![0u8; 16 * 1024].into_boxed_slice(),
                    };
                }
                Linger::Draining {
                    deadline,
                    discarded,
                    scratch,
                } => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        this.linger = Linger::Done;
                        continue;
                    }
                    let mut buf = ReadBuf::new(scratch);
                    match ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf)) {
                        Ok(()) if !buf.filled().is_empty() => {
                            *discarded += buf.filled().len() as u64;
                            if *discarded >= LINGER_MAX_BYTES {
                                this.linger = Linger::Done;
                            }
                        }
                        // EOF or an error: the client is done with us.
                        _ => this.linger = Linger::Done,
                    }
                }
                Linger::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// Accepts connections and serves `app` on each until `shutdown` completes, then lets the
/// requests in progress finish.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(LingeringStream::new(stream));
        let conn = builder.serve_connection(io, TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
