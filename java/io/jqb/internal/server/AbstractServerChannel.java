package io.jqb.internal.server;

import io.jqb.Errno;
import io.jqb.internal.wire.MessageHeaderDescriptor;
import java.nio.ByteBuffer;

/**
 * What the SHM and SOCKET server channels share: the open/destroyed life cycle and its two locks, the send entry
 * points (closed check under the direction's lock), the flow-control value the server trusts, and the validation
 * of a request's header. The transports fill in the I/O ({@code write*}, {@link #closeFds()}, {@link #release()}).
 *
 * <p>Locks: {@code responseLock} serialises response writers and {@code eventLock} event writers; both guard the
 * fds' lifetime, so no thread can write into a closed, reused fd or an unmapped ring. Closing takes both
 * (response, then event). Requests are the loop thread's alone.</p>
 */
abstract class AbstractServerChannel implements ServerChannel {
    final Owner owner;
    /** The channel object itself (nothing else locks it): one lock object fewer per connection. */
    final Object responseLock = this;
    final Object eventLock = new Object();
    /**
     * The flow-control value we set. The shared copy is for the client to read; the client can write it too, so the
     * server never trusts it (a hostile client could bypass RATE_OFF or keep a spinning loop busy).
     */
    volatile int flowControl;
    /** False once {@link #closeSocket()} ran; written under both locks. */
    volatile boolean open = true;
    /** True once {@link #destroy()} released the resources; under both locks. */
    boolean destroyed;

    AbstractServerChannel(Owner owner) {
        this.owner = owner;
    }

    /** Writes a response; called under {@code responseLock} while open. @return as {@link #sendResponse} */
    abstract int writeResponse(ByteBuffer msg);

    /** @see #writeResponse(ByteBuffer) */
    abstract int writeResponse(ByteBuffer[] msgs);

    /** Writes an event and its notification; under {@code eventLock} while open. @return as {@link #sendEvent} */
    abstract int writeEvent(ByteBuffer msg);

    /** @see #writeEvent(ByteBuffer) */
    abstract int writeEvent(ByteBuffer[] msgs);

    /** Publishes the flow-control value where the client reads it. */
    abstract void publishFlowControl(int value);

    /** Events queued for the client; under {@code eventLock}, before {@link #destroy()}. */
    abstract int queuedEvents();

    /** Stops the I/O: shuts down and closes the fds; once, under both locks. */
    abstract void closeFds();

    /** Unmaps, unlinks and frees what the connection owns; once, under both locks, after {@link #closeFds()}. */
    abstract void release();

    @Override
    public final int sendResponse(ByteBuffer msg) {
        synchronized (responseLock) {
            return open ? writeResponse(msg) : -Errno.ENOTCONN;
        }
    }

    @Override
    public final int sendResponse(ByteBuffer[] msgs) {
        synchronized (responseLock) {
            return open ? writeResponse(msgs) : -Errno.ENOTCONN;
        }
    }

    @Override
    public final int sendEvent(ByteBuffer msg) {
        synchronized (eventLock) {
            return open ? writeEvent(msg) : -Errno.ENOTCONN;
        }
    }

    @Override
    public final int sendEvent(ByteBuffer[] msgs) {
        synchronized (eventLock) {
            return open ? writeEvent(msgs) : -Errno.ENOTCONN;
        }
    }

    @Override
    public final void setFlowControl(int value) {
        flowControl = value;
        publishFlowControl(value);
    }

    @Override
    public final int eventQueueLength() {
        synchronized (eventLock) {
            return destroyed ? 0 : queuedEvents();
        }
    }

    @Override
    public final void closeSocket() {
        synchronized (responseLock) {
            synchronized (eventLock) {
                if (!open) {
                    return;
                }
                open = false;
                closeFds();
            }
        }
    }

    @Override
    public final void destroy() {
        closeSocket();
        synchronized (responseLock) {
            synchronized (eventLock) {
                if (destroyed) {
                    return;
                }
                destroyed = true;
                release();
            }
        }
    }

    /**
     * The one validation of a request a peer wrote, for both transports: {@link MessageHeaderDescriptor#requestSize}.
     *
     * @param b the buffer holding the request (little-endian)
     * @param off where the request starts
     * @param available bytes the transport delivered (chunk or datagram)
     * @return the request's size (its header's size field), or -1 when the request is invalid
     */
    static int requestSize(ByteBuffer b, int off, int available) {
        return MessageHeaderDescriptor.requestSize(b, off, available);
    }

    /**
     * Why {@link #requestSize} refused a request, for {@link Owner#violation}; only on the failure path.
     *
     * @param unit what carried it ("chunk", "datagram")
     */
    static String badRequest(String unit, ByteBuffer b, int off, int available) {
        return "bad request header: " + unit + " " + available + " bytes, header size "
                + (available >= MessageHeaderDescriptor.REQUEST_HEADER_LENGTH
                        ? Integer.toString(b.getInt(off + MessageHeaderDescriptor.SIZE_OFFSET)) : "missing");
    }
}
