package io.jqb.stream;

import io.jqb.IpcException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test service: each copy gets its own number; it answers every frame with {@code "<copy>:<payload>"} under the
 * same id, and ends at EOF, an error, or after {@code idleMs} without a frame.
 */
final class TagService implements IpcService {
    static final int P = Frames.PREFIX;
    private final AtomicInteger copies;
    private final int copy;
    private final int idleMs;
    private final int frameTimeoutMs;

    TagService(int idleMs, int frameTimeoutMs) {
        this(new AtomicInteger(), 0, idleMs, frameTimeoutMs);
    }

    private TagService(AtomicInteger copies, int copy, int idleMs, int frameTimeoutMs) {
        this.copies = copies;
        this.copy = copy;
        this.idleMs = idleMs;
        this.frameTimeoutMs = frameTimeoutMs;
    }

    int copiesMade() {
        return copies.get();
    }

    @Override
    public IpcService copy() {
        return new TagService(copies, copies.incrementAndGet(), idleMs, frameTimeoutMs);
    }

    @Override
    public void serve(Ipc ipc) {
        try (ipc) {
            ipc.setFrameTimeout(frameTimeoutMs);
            for (;;) {
                Message m = ipc.readMessage(P, 1 << 20, idleMs);
                if (m == null) {
                    return;
                }
                ipc.writeMessage(P, m.msgId(), copy + ":" + m.text());
            }
        } catch (IpcException e) {
            // the connection broke or was hostile: this copy ends, the server goes on
        }
    }
}
