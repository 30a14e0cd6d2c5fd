package io.jqb.libipc;

import io.jqb.libipc.internal.FrameDescriptor;
import io.jqb.libipc.internal.FrameWriter;
import java.nio.ByteBuffer;

/**
 * A libipc message: a type byte and an opaque payload (C's {@code struct ipc_message}). The type is carried
 * through whatever its value; {@link #SERVER_CLOSE}, {@link #ERR} and {@link #DATA} are libipc's conventional ones.
 *
 * <p>Messages you build ({@link #formatData}, {@link #formatServerClose}, {@link #empty}) own their payload. A
 * received message (in an {@link IpcEvent} or from {@link IpcClient#read}) is a view of the connection's receive
 * buffer, reused for the next message: it is valid until the next {@code waitEvent}/{@code read} on that loop;
 * {@link #copy()} keeps it.
 */
public final class IpcMessage {
    /** Type 0: the server is closing ({@code MSG_TYPE_SERVER_CLOSE}). */
    public static final byte SERVER_CLOSE = 0;
    /** Type 1: an error ({@code MSG_TYPE_ERR}; no library behaviour attached). */
    public static final byte ERR = 1;
    /** Type 2: application data ({@code MSG_TYPE_DATA}). */
    public static final byte DATA = 2;
    /** Largest payload a C libipc (33cd215) reader accepts at all. */
    public static final int C_MAX_PAYLOAD = FrameDescriptor.C_MAX_PAYLOAD;

    private byte type;
    private ByteBuffer payload;
    private int offset;
    private int length;

    IpcMessage(byte type, ByteBuffer payload) {
        set(type, payload);
    }

    /** A flyweight for received messages. */
    IpcMessage() {
        this(DATA, FrameWriter.EMPTY);
    }

    void set(byte type, ByteBuffer payload) {
        this.type = type;
        this.payload = payload;
        this.offset = payload.position();
        this.length = payload.remaining();
    }

    /**
     * {@code ipc_message_format_data}: a DATA message carrying a copy of {@code payload}'s remaining bytes.
     *
     * @param payload the bytes (position not moved), or null for an empty payload
     * @return the message
     */
    public static IpcMessage formatData(ByteBuffer payload) {
        return format(DATA, payload);
    }

    /**
     * {@code ipc_message_format_data}: a DATA message carrying a copy of {@code payload}.
     *
     * @param payload the bytes
     * @return the message
     */
    public static IpcMessage formatData(byte[] payload) {
        return format(DATA, ByteBuffer.wrap(payload));
    }

    /** @return {@code ipc_message_format_server_close}: type 0, empty payload (frame {@code 00 00 00 00 00}) */
    public static IpcMessage formatServerClose() {
        return new IpcMessage(SERVER_CLOSE, FrameWriter.EMPTY);
    }

    /**
     * {@code ipc_message_format}: a message of any type with a copy of {@code payload}'s remaining bytes.
     *
     * @param type the type byte
     * @param payload the bytes (position not moved), or null for an empty payload
     * @return the message
     */
    public static IpcMessage format(byte type, ByteBuffer payload) {
        if (payload == null || !payload.hasRemaining()) {
            return new IpcMessage(type, FrameWriter.EMPTY);
        }
        ByteBuffer copy = ByteBuffer.allocate(payload.remaining());
        copy.put(payload.duplicate()).flip();
        return new IpcMessage(type, copy.asReadOnlyBuffer());
    }

    /**
     * An empty message of {@code type} (what C's {@code ipc_message_empty} leaves: the type, no payload).
     *
     * @param type the type byte
     * @return the message
     */
    public static IpcMessage empty(byte type) {
        return new IpcMessage(type, FrameWriter.EMPTY);
    }

    /** @return the type byte (any value; compare with {@link #DATA} etc.) */
    public byte type() {
        return type;
    }

    /** @return the payload length */
    public int length() {
        return length;
    }

    /**
     * The payload, read-only. For a received message, a view valid until the next event: each call rewinds it to the
     * whole payload, so reading it (moving its position) does not change the message.
     *
     * @return the payload bytes from position to limit
     */
    public ByteBuffer payload() {
        payload.limit(offset + length).position(offset);
        return payload;
    }

    /** @return a copy of the payload */
    public byte[] payloadBytes() {
        byte[] b = new byte[length];
        payload.get(offset, b);
        return b;
    }

    /** @return a message that owns a copy of this one's payload */
    public IpcMessage copy() {
        return format(type, payload());
    }

    @Override
    public String toString() {
        return "IpcMessage[type=" + type + ", length=" + length() + "]";
    }
}
