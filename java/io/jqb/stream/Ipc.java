package io.jqb.stream;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.NotConnectedException;
import io.jqb.stream.internal.FdHandle;
import io.jqb.stream.internal.FrameDescriptor;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * One end of a byte stream (a TCP connection, a TLS session or a local pipe), or a listening endpoint: blocking
 * reads with time-outs, framed messages, and an optional "data can be read" callback. A Java rendering of vfiipc's
 * {@code IPC}.
 *
 * <p><b>Time-outs</b> are in milliseconds: 0 = do not wait, negative = wait without limit. Reads return what arrived
 * (0 = nothing within the time-out, -1 = the peer closed the stream); failures of the connection throw an
 * {@link IpcException} naming the operation and the errno, and a broken frame throws a {@link FrameException}.</p>
 *
 * <p><b>Framed messages</b> ({@link #writeMessage}, {@link #readMessage}) carry a 12-byte header {prefix, msgId,
 * length}, all big-endian (see {@code docs/STREAM-PROTOCOL.md}). A frame's first byte is awaited for the caller's
 * time-out; once it has begun, the whole frame must arrive within the {@linkplain #setFrameTimeout frame time-out}
 * (default 5 s), so a peer that stalls mid-frame cannot hold a reader forever.</p>
 *
 * <p><b>Threads:</b> one thread may read while another writes; two concurrent readers (or writers) must
 * synchronise themselves. {@link #close()} may be called from any thread: it wakes a blocked reader or writer.
 * The hot paths allocate nothing (except the payload array of {@link #readMessage(int, int, int)}).</p>
 */
public abstract class Ipc implements AutoCloseable {
    /** {@link #readMessage(int, ByteBuffer, int)}: nothing arrived within the time-out. */
    public static final long TIMED_OUT = -1;
    /** {@link #readMessage(int, ByteBuffer, int)}: the peer closed the stream between frames. */
    public static final long END_OF_STREAM = -2;
    /** Size of each connection's receive and send buffers (native memory, made on first use). */
    static final int BUFFER_SIZE = 64 * 1024;
    /** Payloads at least this long in direct buffers bypass the connection's buffers (no copy). */
    static final int DIRECT_MIN = 8 * 1024;

    private ByteBuffer in;
    private long inAddress;
    private ByteBuffer out;
    private long outAddress;
    private volatile boolean eof;
    private volatile String errorText;
    private int frameTimeoutMs = 5000;
    /** Write time-out; negative = without limit. */
    int writeTimeoutMs = -1;
    private CallbackRunner callback;

    /** For subclasses in this package. */
    Ipc() {
    }

    // ---- what a transport provides -------------------------------------------------------------------------

    /**
     * Appends received (plain) bytes to {@code buf} after its limit (the caller leaves room), waiting up to
     * {@code timeoutMs} for at least one.
     *
     * @return bytes added (&gt; 0), 0 on time-out, -1 at end of stream
     */
    abstract int fillIn(ByteBuffer buf, long address, int timeoutMs);

    /** Sends every byte from {@code buf}'s position to its limit (a direct buffer at {@code address}). */
    abstract void writeAll(ByteBuffer buf, long address);

    /** @return true when {@link #recvDirect} and {@link #writeTwo} work (plain sockets; not TLS) */
    boolean direct() {
        return false;
    }

    /**
     * Receives straight into native memory, bypassing the receive buffer (large payloads into direct buffers).
     *
     * @return bytes received, 0 on time-out, -1 at end of stream
     */
    int recvDirect(long address, int len, int timeoutMs) {
        throw new UnsupportedOperationException();
    }

    /** Sends two native ranges (a frame header and a direct payload) without copying them. */
    void writeTwo(long a1, int l1, long a2, int l2) {
        throw new UnsupportedOperationException();
    }

    /** @return the fd handle the callback polls, or null when closed */
    abstract FdHandle handle();

    // ---- the public surface ---------------------------------------------------------------------------------

    /**
     * Reads up to {@code maxSize} bytes, waiting up to {@code timeoutMs} for the first; then returns what is
     * available without waiting further.
     *
     * @return bytes read; 0 when nothing arrived in time; -1 when the peer closed the stream (see {@link #eof()})
     * @param buf the destination
     * @param maxSize the most bytes to read
     * @param timeoutMs milliseconds to wait (0: do not wait, negative: without limit)
     */
    public int read(byte[] buf, int maxSize, int timeoutMs) {
        return read(buf, maxSize, timeoutMs, 0);
    }

    /**
     * Reads up to {@code maxSize} bytes: waits up to {@code firstByteTimeoutMs} for the first byte, then up to
     * {@code nextBytesTimeoutMs} for each later burst, and returns when {@code maxSize} bytes arrived, a gap
     * exceeded the second time-out, or the stream ended.
     *
     * @return bytes read (what arrived so far); 0 when nothing arrived; -1 when the stream ended before any byte
     * @param buf the destination
     * @param maxSize the most bytes to read
     * @param firstByteTimeoutMs milliseconds to wait for the first byte (negative: without limit)
     * @param nextBytesTimeoutMs milliseconds to wait for each later burst (0: do not wait)
     */
    public int read(byte[] buf, int maxSize, int firstByteTimeoutMs, int nextBytesTimeoutMs) {
        Objects.checkFromIndexSize(0, maxSize, buf.length);
        ByteBuffer in = in("read");
        int n = 0;
        while (n < maxSize) {
            if (!in.hasRemaining()) {
                if (n > 0 && nextBytesTimeoutMs == 0 || eof) {
                    break;
                }
                if (fill(in, n == 0 ? firstByteTimeoutMs : nextBytesTimeoutMs, "read") <= 0) {
                    break;
                }
            }
            int k = Math.min(in.remaining(), maxSize - n);
            in.get(buf, n, k);
            n += k;
        }
        return n == 0 && eof ? -1 : n;
    }

    /**
     * Like {@link #read(byte[], int, int, int)} into {@code dst} (up to its remaining bytes; its position
     * advances).
     *
     * @return bytes read; 0 when nothing arrived; -1 when the stream ended before any byte
     * @param dst the destination, filled up to its remaining bytes
     * @param firstByteTimeoutMs milliseconds to wait for the first byte (negative: without limit)
     * @param nextBytesTimeoutMs milliseconds to wait for each later burst (0: do not wait)
     */
    public int read(ByteBuffer dst, int firstByteTimeoutMs, int nextBytesTimeoutMs) {
        ByteBuffer in = in("read");
        int n = 0;
        while (dst.hasRemaining()) {
            if (!in.hasRemaining()) {
                if (n > 0 && nextBytesTimeoutMs == 0 || eof) {
                    break;
                }
                if (fill(in, n == 0 ? firstByteTimeoutMs : nextBytesTimeoutMs, "read") <= 0) {
                    break;
                }
            }
            n += moveTo(in, dst, Integer.MAX_VALUE);
        }
        return n == 0 && eof ? -1 : n;
    }

    /**
     * Like {@link #read(byte[], int, int)} but leaves the bytes to be read again. At most the receive buffer's size
     * (64 KiB) can be peeked at.
     *
     * @return bytes copied; 0 when nothing arrived in time; -1 when the stream ended
     * @param buf the destination
     * @param maxSize the most bytes to read
     * @param timeoutMs milliseconds to wait (0: do not wait, negative: without limit)
     */
    public int peek(byte[] buf, int maxSize, int timeoutMs) {
        Objects.checkFromIndexSize(0, maxSize, buf.length);
        ByteBuffer in = in("peek");
        if (!in.hasRemaining() && !eof) {
            fill(in, timeoutMs, "peek");
        }
        int k = Math.min(in.remaining(), maxSize);
        in.get(in.position(), buf, 0, k);
        return k == 0 && eof ? -1 : k;
    }

    /**
     * Writes all of {@code data}, or throws.
     * @param data the bytes to write
     */
    public void write(byte[] data) {
        write(data, 0, data.length);
    }

    /**
     * Writes {@code len} bytes of {@code data} from {@code off}, all of them, or throws.
     * @param data the bytes to write
     * @param off the offset of the first byte
     * @param len how many bytes
     */
    public void write(byte[] data, int off, int len) {
        Objects.checkFromIndexSize(off, len, data.length);
        ByteBuffer out = out("write");
        while (len > 0) {
            int k = Math.min(len, out.capacity());
            out.clear();
            out.put(data, off, k).flip();
            writeAll(out, outAddress);
            off += k;
            len -= k;
        }
    }

    /**
     * Writes all of {@code data}'s remaining bytes (its position advances to its limit), or throws.
     * @param data the bytes to write
     */
    public void write(ByteBuffer data) {
        ByteBuffer out = out("write");
        while (data.hasRemaining()) {
            out.clear();
            moveTo(data, out, Integer.MAX_VALUE);
            out.flip();
            writeAll(out, outAddress);
        }
    }

    /**
     * Waits up to {@code timeoutMs} until a read would not block (data, or the end of the stream).
     *
     * @return true when a read would return at once
     * @param timeoutMs milliseconds to wait (0: do not wait, negative: without limit)
     */
    public boolean pollIn(int timeoutMs) {
        ByteBuffer in = in("pollIn");
        return in.hasRemaining() || eof || fill(in, timeoutMs, "pollIn") != 0;
    }

    /** @return true once a read has seen the peer close the stream */
    public boolean eof() {
        return eof;
    }

    /** @return true once the stream failed (a system error or a broken frame); close it */
    public boolean error() {
        return errorText != null;
    }

    /** @return the underlying socket's fd, or -1 when closed or not connected */
    public abstract int fd();

    /** @return true for an endpoint made by {@code accept} (or a listening one), false for a connecting one */
    public abstract boolean isServer();

    /**
     * @return the peer's address: {@code "host:port"}, {@code "[v6]:port"} or a socket path; {@code ""} when not
     *     known (an adopted fd, an unnamed local socket)
     */
    public abstract String remoteAddress();

    /** @return this end's address in the same form as {@link #remoteAddress()} */
    public abstract String localAddress();

    /**
     * Accepts one connection on a listening endpoint.
     *
     * @param timeoutMs how long to wait; 0 = do not wait; negative = without limit
     * @return the connection (which the caller owns and closes), or null when nobody connected in time
     * @throws IpcException on a failure of the listening socket (e.g. EMFILE)
     */
    public abstract Ipc accept(int timeoutMs);

    /** Closes the endpoint, waking any thread blocked on it. Idempotent; safe from any thread. */
    @Override
    public void close() {
        setCallback(null);
    }

    /**
     * Sets how long the rest of a frame may take once its first byte arrived (default 5000 ms).
     *
     * @param ms positive milliseconds
     */
    public void setFrameTimeout(int ms) {
        if (ms <= 0) {
            throw new IllegalArgumentException("frameTimeoutMs=" + ms);
        }
        frameTimeoutMs = ms;
    }

    /**
     * Sets how long a write may wait for the peer to make room (default: negative, without limit).
     *
     * @param ms milliseconds; negative = without limit
     */
    public void setWriteTimeout(int ms) {
        writeTimeoutMs = ms;
    }

    // ---- framed messages ------------------------------------------------------------------------------------

    /**
     * Writes one frame {@code prefix, msgId, payload} (see {@code docs/STREAM-PROTOCOL.md}).
     * @param prefix the frame prefix both ends agree on
     * @param msgId the message id
     * @param payload the payload
     */
    public void writeMessage(int prefix, int msgId, byte[] payload) {
        writeMessage(prefix, msgId, ByteBuffer.wrap(payload));
    }

    /**
     * Writes one frame with {@code text} encoded as UTF-8.
     * @param prefix the frame prefix both ends agree on
     * @param msgId the message id
     * @param text the payload, sent as UTF-8
     */
    public void writeMessage(int prefix, int msgId, String text) {
        writeMessage(prefix, msgId, text.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Writes one frame with {@code payload}'s remaining bytes (its position is left unchanged).
     * @param prefix the frame prefix both ends agree on
     * @param msgId the message id
     * @param payload the payload
     */
    public void writeMessage(int prefix, int msgId, ByteBuffer payload) {
        ByteBuffer out = out("writeMessage");
        int len = payload.remaining();
        int from = payload.position();
        out.clear();
        FrameDescriptor.writeHeader(out, 0, prefix, msgId, len);
        if (len >= DIRECT_MIN && payload.isDirect() && direct()) {
            // large direct payload: header and payload in one sendmsg, no copy
            writeTwo(outAddress, FrameDescriptor.HEADER_LENGTH, io.jqb.internal.posix.Posix.bufferAddress(payload)
                    + from, len);
            return;
        }
        out.position(FrameDescriptor.HEADER_LENGTH);
        int done = 0;
        for (;;) {
            int k = Math.min(len - done, out.remaining());
            out.put(out.position(), payload, from + done, k);
            out.position(out.position() + k).flip();
            done += k;
            writeAll(out, outAddress);
            if (done == len) {
                return;
            }
            out.clear();
        }
    }

    /**
     * Reads one frame into a new array.
     *
     * @param prefix the prefix the frame must carry
     * @param sizeLimit the largest payload accepted (checked before anything is allocated)
     * @param timeoutMs how long to wait for the frame's first byte
     * @return the message; null when nothing arrived in time, or when the peer closed the stream between frames
     *     ({@link #eof()} tells which)
     * @throws FrameException for a wrong prefix, an oversize length, a truncated or stalled frame
     */
    public Message readMessage(int prefix, int sizeLimit, int timeoutMs) {
        ByteBuffer in = in("readMessage");
        long start = readHeader(in, prefix, sizeLimit, timeoutMs);
        if (start < 0) {
            return null;
        }
        int id = FrameDescriptor.msgId(in, in.position() - FrameDescriptor.HEADER_LENGTH);
        byte[] payload = new byte[pendingLength];
        readPayload(in, ByteBuffer.wrap(payload), start);
        return new Message(id, payload);
    }

    /**
     * Reads one frame's payload into {@code dst} (at most its remaining bytes: a longer frame is a
     * {@link FrameException.Kind#TOO_LARGE}); allocates nothing.
     *
     * @return the message id as an unsigned value (0 .. 2^32-1), {@link #TIMED_OUT}, or {@link #END_OF_STREAM}
     * @param prefix the frame prefix both ends agree on
     * @param dst the destination, filled up to its remaining bytes
     * @param timeoutMs milliseconds to wait (0: do not wait, negative: without limit)
     */
    public long readMessage(int prefix, ByteBuffer dst, int timeoutMs) {
        ByteBuffer in = in("readMessage");
        long start = readHeader(in, prefix, dst.remaining(), timeoutMs);
        if (start < 0) {
            return start;
        }
        int id = FrameDescriptor.msgId(in, in.position() - FrameDescriptor.HEADER_LENGTH);
        readPayload(in, dst, start);
        return Integer.toUnsignedLong(id);
    }

    /** Length of the frame whose header {@link #readHeader} consumed last. */
    private int pendingLength;

    /**
     * Waits for the next frame's header and checks it, without consuming anything: a caller can size its buffer
     * before {@link #readMessage(int, ByteBuffer, int)}.
     *
     * @param prefix the prefix the frame must carry
     * @param sizeLimit the largest payload accepted
     * @param timeoutMs how long to wait for the frame's first byte
     * @return the payload length, or {@link #TIMED_OUT} / {@link #END_OF_STREAM}
     * @throws FrameException as {@link #readMessage(int, int, int)}
     */
    public long nextMessageLength(int prefix, int sizeLimit, int timeoutMs) {
        ByteBuffer in = in("nextMessageLength");
        long r = awaitHeader(in, prefix, sizeLimit, timeoutMs);
        return r < 0 ? r : pendingLength;
    }

    /**
     * Waits for and checks a header, consumes it and sets {@link #pendingLength}.
     *
     * @return the nanoTime deadline for the rest of the frame, or TIMED_OUT / END_OF_STREAM
     */
    private long readHeader(ByteBuffer in, int prefix, int sizeLimit, int timeoutMs) {
        long r = awaitHeader(in, prefix, sizeLimit, timeoutMs);
        if (r >= 0) {
            in.position(in.position() + FrameDescriptor.HEADER_LENGTH);
        }
        return r;
    }

    /** Waits for a whole header in the buffer and checks it; sets {@link #pendingLength}; consumes nothing. */
    private long awaitHeader(ByteBuffer in, int prefix, int sizeLimit, int timeoutMs) {
        long deadline = in.hasRemaining() ? System.nanoTime() + frameTimeoutMs * 1_000_000L : 0;
        while (in.remaining() < FrameDescriptor.HEADER_LENGTH) {
            int t = deadline == 0 ? timeoutMs : msLeft(deadline, "readMessage", "header");
            int r = eof ? -1 : fill(in, t, "readMessage");
            if (r < 0) {
                if (!in.hasRemaining()) {
                    return END_OF_STREAM;
                }
                throw broken(new FrameException("readMessage", FrameException.Kind.TRUNCATED,
                        "header bytes=" + in.remaining() + " of " + FrameDescriptor.HEADER_LENGTH));
            }
            if (r == 0 && deadline == 0) {
                return TIMED_OUT;
            }
            if (deadline == 0) {
                deadline = System.nanoTime() + frameTimeoutMs * 1_000_000L;
            }
        }
        int at = in.position();
        int got = FrameDescriptor.prefix(in, at);
        if (got != prefix) {
            throw broken(new FrameException("readMessage", FrameException.Kind.WRONG_PREFIX,
                    String.format("prefix=0x%08x expected=0x%08x", got, prefix)));
        }
        long len = FrameDescriptor.length(in, at);
        if (len > sizeLimit) {
            throw broken(new FrameException("readMessage", FrameException.Kind.TOO_LARGE,
                    "length=" + len + " sizeLimit=" + sizeLimit));
        }
        pendingLength = (int) len;
        return deadline == 0 ? System.nanoTime() + frameTimeoutMs * 1_000_000L : deadline;
    }

    private void readPayload(ByteBuffer in, ByteBuffer dst, long deadline) {
        int left = pendingLength;
        if (left - in.remaining() >= DIRECT_MIN && dst.isDirect() && direct()) {
            left -= moveTo(in, dst, left);
            long at = io.jqb.internal.posix.Posix.bufferAddress(dst);
            while (left > 0) {
                int r = fillDirect(at + dst.position(), left, deadline);
                dst.position(dst.position() + r);
                left -= r;
            }
            return;
        }
        while (left > 0) {
            if (!in.hasRemaining()) {
                int r = eof ? -1 : fill(in, msLeft(deadline, "readMessage", "payload bytes left=" + left), "readMessage");
                if (r < 0) {
                    throw broken(new FrameException("readMessage", FrameException.Kind.TRUNCATED,
                            "length=" + pendingLength + " missing=" + left));
                }
                continue;
            }
            left -= moveTo(in, dst, left);
        }
    }

    /** One {@link #recvDirect} within the frame deadline; throws for a truncated or stalled frame. */
    private int fillDirect(long address, int left, long deadline) {
        int r;
        try {
            r = eof ? -1 : recvDirect(address, left, msLeft(deadline, "readMessage", "payload bytes left=" + left));
        } catch (FrameException e) {
            throw e;
        } catch (IpcException e) {
            throw broken(e);
        }
        if (r < 0) {
            eof = true;
            throw broken(new FrameException("readMessage", FrameException.Kind.TRUNCATED,
                    "length=" + pendingLength + " missing=" + left));
        }
        return r;
    }

    /** @return whole milliseconds left until {@code deadline}, rounded up; throws TIMED_OUT when none */
    private int msLeft(long deadline, String op, String what) {
        long ns = deadline - System.nanoTime();
        if (ns <= 0) {
            throw broken(new FrameException(op, FrameException.Kind.TIMED_OUT,
                    what + " frameTimeoutMs=" + frameTimeoutMs));
        }
        return (int) ((ns + 999_999) / 1_000_000);
    }

    // ---- the asynchronous callback --------------------------------------------------------------------------

    /**
     * Calls {@code cb} on a thread of its own whenever data can be read (or the stream ended), without consuming
     * anything: the callback reads (it is called again while unread data remains). It stops after the stream
     * ended, failed or was closed. {@code setCallback(null)} stops it and returns only when no call of it is
     * running (called from the callback itself, it returns at once and the thread ends after the call).
     *
     * @param cb the callback, or null to stop it
     */
    public void setCallback(Consumer<Ipc> cb) {
        CallbackRunner old;
        synchronized (this) {
            old = callback;
            callback = null;
        }
        if (old != null) {
            old.stop();
        }
        if (cb != null) {
            FdHandle h = handle();
            if (h == null) {
                throw new NotConnectedException("setCallback", "closed");
            }
            CallbackRunner r = new CallbackRunner(this, cb);
            synchronized (this) {
                callback = r;
            }
            r.start();
        }
    }

    /** @return true when received bytes wait in this end's buffer */
    boolean hasBuffered() {
        ByteBuffer b = in;
        return b != null && b.hasRemaining();
    }

    // ---- shared machinery -----------------------------------------------------------------------------------

    /** One fill of the receive buffer, making room first; marks EOF and errors. */
    private int fill(ByteBuffer in, int timeoutMs, String op) {
        if (!in.hasRemaining()) {
            in.position(0).limit(0);
        } else if (in.capacity() - in.limit() < in.capacity() / 2) {
            in.compact().flip();
        }
        try {
            int r = fillIn(in, inAddress, timeoutMs);
            if (r < 0) {
                eof = true;
            }
            return r;
        } catch (IpcException e) {
            throw broken(e);
        }
    }

    /** Marks the stream in error (the first error is kept) and returns {@code e} for throwing. */
    <E extends IpcException> E broken(E e) {
        if (errorText == null) {
            errorText = e.getMessage();
        }
        return e;
    }

    /** Marks the stream in error from a writer's failure. */
    void markError(IpcException e) {
        broken(e);
    }

    /** The receive buffer, made on first use; throws when the stream already failed. */
    private ByteBuffer in(String op) {
        String err = errorText;
        if (err != null) {
            throw new IpcException(op, Errno.EBADMSG, "stream in error since: " + err);
        }
        ByteBuffer b = in;
        if (b == null) {
            b = ByteBuffer.allocateDirect(BUFFER_SIZE);
            inAddress = io.jqb.internal.posix.Posix.bufferAddress(b);
            b.limit(0);
            in = b;
        }
        return b;
    }

    private ByteBuffer out(String op) {
        ByteBuffer b = out;
        if (b == null) {
            b = ByteBuffer.allocateDirect(BUFFER_SIZE);
            outAddress = io.jqb.internal.posix.Posix.bufferAddress(b);
            out = b;
        }
        return b;
    }

    /** Moves up to {@code max} bytes from {@code src} to {@code dst}, advancing both; allocates nothing. */
    static int moveTo(ByteBuffer src, ByteBuffer dst, int max) {
        int k = Math.min(Math.min(src.remaining(), dst.remaining()), max);
        dst.put(dst.position(), src, src.position(), k);
        dst.position(dst.position() + k);
        src.position(src.position() + k);
        return k;
    }

    /** An exception for use after close. */
    static NotConnectedException closed(String op) {
        return new NotConnectedException(op, "closed");
    }
}
