package io.jqb.notify.internal;

import static io.jqb.notify.internal.NotifyMessageDescriptor.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The notification the broker is routing, as bytes in reusable arrays: read from a NOTIFY request (validated like
 * {@link NoteCodec#getNote}) and written into DELIVER/OBSERVED/UNICAST_ERROR events without decoding or
 * re-encoding a string, so that the broker's per-notification path allocates nothing. The routing keys
 * ({@link #to()}, {@link #id()}) are canonical strings from a {@link NameCache}. Not thread-safe (one per broker,
 * used under its lock).
 */
final class NoteBuffer {
    private final NameCache names;
    private final ParamsValidator validator = new ParamsValidator();
    int flags;
    final byte[] from = new byte[MAX_NAME];
    int fromLen;
    final byte[] to = new byte[MAX_NAME];
    int toLen;
    final byte[] id = new byte[MAX_NAME];
    int idLen;
    final byte[] params = new byte[MAX_PARAMS];
    int paramsLen;
    private String toName;
    private String idName;

    NoteBuffer(NameCache names) {
        this.names = names;
    }

    /**
     * Reads a NOTE body from {@code [body, end)} of {@code b} (absolute offsets, little-endian whatever the buffer's
     * order).
     *
     * @throws IllegalArgumentException malformed lengths
     */
    void read(ByteBuffer b, int body, int end) {
        NoteCodec.need(body + NOTE_FIXED <= end, "NOTE shorter than its fixed part");
        int pLen = le32(b, body + NOTE_PARAMS_LEN);
        int fLen = le16(b, body + NOTE_FROM_LEN);
        int tLen = le16(b, body + NOTE_TO_LEN);
        int iLen = le16(b, body + NOTE_ID_LEN);
        NoteCodec.need(pLen >= 0 && pLen <= MAX_PARAMS, "paramsLen out of range");
        NoteCodec.need(fLen <= MAX_NAME && tLen <= MAX_NAME && iLen <= MAX_NAME, "name too long");
        int s = body + NOTE_FIXED;
        NoteCodec.need((long) s + fLen + tLen + iLen + pLen == end, "NOTE lengths do not fill the message");
        flags = le32(b, body + NOTE_FLAGS);
        b.get(s, from, 0, fLen);
        b.get(s + fLen, to, 0, tLen);
        b.get(s + fLen + tLen, id, 0, iLen);
        b.get(s + fLen + tLen + iLen, params, 0, pLen);
        fromLen = fLen;
        toLen = tLen;
        idLen = iLen;
        paramsLen = pLen;
        toName = names.get(to, tLen);
        idName = names.get(id, iLen);
    }

    /** Takes a notification from a peer (its strings are encoded: this path allocates). */
    void set(Note n) {
        fromLen = copy(n.from(), from);
        toLen = copy(n.to(), to);
        idLen = copy(n.id(), id);
        byte[] p = n.params().getBytes(StandardCharsets.UTF_8);
        NoteCodec.need(p.length <= MAX_PARAMS, "params too long");
        System.arraycopy(p, 0, params, 0, p.length);
        paramsLen = p.length;
        flags = n.flags();
        toName = n.to();
        idName = n.id();
    }

    private static int copy(String s, byte[] dst) {
        byte[] b = NoteCodec.name("name", s);
        System.arraycopy(b, 0, dst, 0, b.length);
        return b.length;
    }

    /**
     * Validates the params as one JSON object and makes them compact; {@code {}} when empty or blank. A compact
     * object is checked in place (no allocation); anything else goes through {@link Params#compact(String)}.
     *
     * @throws IllegalArgumentException not a JSON object, or longer than the limit once compact
     */
    void compactParams() {
        if (validator.isCompactObject(params, paramsLen)) {
            return;
        }
        byte[] p = Params.compact(new String(params, 0, paramsLen, StandardCharsets.UTF_8))
                .getBytes(StandardCharsets.UTF_8);
        System.arraycopy(p, 0, params, 0, p.length);
        paramsLen = p.length;
    }

    /** Replaces {@code from} (an empty {@code from} means the sender's own application ID). */
    void setFrom(byte[] app) {
        System.arraycopy(app, 0, from, 0, app.length);
        fromLen = app.length;
    }

    /** @return true when {@code from} equals these UTF-8 bytes */
    boolean fromEquals(byte[] app) {
        return java.util.Arrays.equals(from, 0, fromLen, app, 0, app.length);
    }

    /** @return the address as sent (canonical string) */
    String to() {
        return toName;
    }

    /** @return the notification ID (canonical string) */
    String id() {
        return idName;
    }

    /**
     * Writes a NOTE body (regId 0) at absolute {@code at} of {@code d}, a little-endian buffer, with
     * {@code resolvedTo} as its address.
     *
     * @return the offset after it
     */
    int write(ByteBuffer d, int at, byte[] resolvedTo, int resolvedLen) {
        d.putLong(at + NOTE_REG_ID, 0);
        d.putInt(at + NOTE_FLAGS, flags);
        d.putInt(at + NOTE_PARAMS_LEN, paramsLen);
        d.putShort(at + NOTE_FROM_LEN, (short) fromLen);
        d.putShort(at + NOTE_TO_LEN, (short) resolvedLen);
        d.putShort(at + NOTE_ID_LEN, (short) idLen);
        d.putShort(at + NOTE_ID_LEN + 2, (short) 0);
        int p = at + NOTE_FIXED;
        d.put(p, from, 0, fromLen);
        p += fromLen;
        d.put(p, resolvedTo, 0, resolvedLen);
        p += resolvedLen;
        d.put(p, id, 0, idLen);
        p += idLen;
        d.put(p, params, 0, paramsLen);
        return p + paramsLen;
    }

    /** @return this notification as a {@link Note} (for the cross-host link; allocates) */
    Note toNote() {
        return new Note(0, flags, new String(from, 0, fromLen, StandardCharsets.UTF_8), toName, idName,
                new String(params, 0, paramsLen, StandardCharsets.UTF_8));
    }

    static int le32(ByteBuffer b, int at) {
        int v = b.getInt(at);
        return b.order() == ByteOrder.LITTLE_ENDIAN ? v : Integer.reverseBytes(v);
    }

    static int le16(ByteBuffer b, int at) {
        short v = b.getShort(at);
        return (b.order() == ByteOrder.LITTLE_ENDIAN ? v : Short.reverseBytes(v)) & 0xffff;
    }

    static long le64(ByteBuffer b, int at) {
        long v = b.getLong(at);
        return b.order() == ByteOrder.LITTLE_ENDIAN ? v : Long.reverseBytes(v);
    }
}
