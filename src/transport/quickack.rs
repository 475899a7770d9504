//! A TCP stream that acknowledges what it reads at once.
//!
//! sshd leaves Nagle's algorithm on for commands without a terminal, so it
//! holds a small packet back while an earlier one is unacknowledged; Linux
//! delays the acknowledgement of a connection that looks like request and
//! response by up to 40 ms, hoping to carry it on the next request. Right
//! after login the two meet: sshd sends its host keys announcement, the
//! client has nothing to say until its channel is confirmed, and the
//! confirmation waits for the acknowledgement — 42 ms on every connection,
//! measured with strace on both ends (OpenSSH's own client escapes it by
//! answering the announcement). Setting `TCP_QUICKACK` after each read
//! sends any acknowledgement still owed right away; it has to be repeated
//! because the kernel goes back to delaying on its own.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// [`TcpStream`] with `TCP_QUICKACK` set again after every read.
pub struct QuickAck(pub TcpStream);

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.0).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            // Best effort: a socket that refuses only acknowledges later.
            let _ = socket2::SockRef::from(&self.0).set_tcp_quickack(true);
        }
        polled
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
