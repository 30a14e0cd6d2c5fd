package io.jqb.notify.internal;

import static io.jqb.notify.internal.NotifyMessageDescriptor.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Encodes and decodes the bodies laid out in {@link NotifyMessageDescriptor}. Decoding validates every length
 * against the message before use and throws {@link IllegalArgumentException} for a malformed body.
 */
public final class NoteCodec {
    private NoteCodec() {
    }

    /** @return UTF-8 bytes of a name, checked against {@link NotifyMessageDescriptor#MAX_NAME} */
    public static byte[] name(String what, String s) {
        byte[] b = (s == null ? "" : s).getBytes(StandardCharsets.UTF_8);
        if (b.length > MAX_NAME) {
            throw new IllegalArgumentException(what + " is " + b.length + " bytes, longer than " + MAX_NAME);
        }
        return b;
    }

    /** Writes a NOTE body at {@code dst}'s position (little-endian) and advances it. */
    public static void putNote(ByteBuffer dst, Note n) {
        byte[] from = name("from", n.from());
        byte[] to = name("to", n.to());
        byte[] id = name("notification id", n.id());
        byte[] params = n.params().getBytes(StandardCharsets.UTF_8);
        int p = dst.position();
        dst.order(ByteOrder.LITTLE_ENDIAN);
        dst.putLong(p + NOTE_REG_ID, n.regId());
        dst.putInt(p + NOTE_FLAGS, n.flags());
        dst.putInt(p + NOTE_PARAMS_LEN, params.length);
        dst.putShort(p + NOTE_FROM_LEN, (short) from.length);
        dst.putShort(p + NOTE_TO_LEN, (short) to.length);
        dst.putShort(p + NOTE_ID_LEN, (short) id.length);
        dst.putShort(p + NOTE_ID_LEN + 2, (short) 0);
        dst.position(p + NOTE_FIXED);
        dst.put(from).put(to).put(id).put(params);
    }

    /** @return the encoded size of a NOTE body */
    public static int noteSize(Note n) {
        return NOTE_FIXED + name("from", n.from()).length + name("to", n.to()).length
                + name("notification id", n.id()).length + n.params().getBytes(StandardCharsets.UTF_8).length;
    }

    /**
     * Reads a NOTE body from {@code [body, end)} of {@code b} (absolute offsets; the buffer is read little-endian).
     */
    public static Note getNote(ByteBuffer b, int body, int end) {
        ByteBuffer v = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        need(body + NOTE_FIXED <= end, "NOTE shorter than its fixed part");
        int paramsLen = v.getInt(body + NOTE_PARAMS_LEN);
        int fromLen = u16(v, body + NOTE_FROM_LEN);
        int toLen = u16(v, body + NOTE_TO_LEN);
        int idLen = u16(v, body + NOTE_ID_LEN);
        need(paramsLen >= 0 && paramsLen <= MAX_PARAMS, "paramsLen=" + paramsLen);
        need(fromLen <= MAX_NAME && toLen <= MAX_NAME && idLen <= MAX_NAME, "name longer than " + MAX_NAME);
        int s = body + NOTE_FIXED;
        need((long) s + fromLen + toLen + idLen + paramsLen == end,
                "NOTE lengths " + fromLen + "+" + toLen + "+" + idLen + "+" + paramsLen + " do not fill the message");
        String from = str(v, s, fromLen);
        String to = str(v, s + fromLen, toLen);
        String id = str(v, s + fromLen + toLen, idLen);
        String params = str(v, s + fromLen + toLen + idLen, paramsLen);
        return new Note(v.getLong(body + NOTE_REG_ID), v.getInt(body + NOTE_FLAGS), from, to, id, params);
    }

    /** @return the UTF-8 string of {@code len} bytes at absolute {@code off} */
    public static String str(ByteBuffer v, int off, int len) {
        byte[] a = new byte[len];
        v.get(off, a);
        return new String(a, StandardCharsets.UTF_8);
    }

    static void need(boolean ok, String what) {
        if (!ok) {
            throw new IllegalArgumentException("malformed message: " + what);
        }
    }

    /** A REGISTER body. */
    public record Registration(long regId, int priority, int kind, String id, String to) {
    }

    /** Writes a REGISTER body at {@code dst}'s position and advances it. */
    public static void putRegister(ByteBuffer dst, Registration r) {
        byte[] id = name("notification id", r.id());
        byte[] to = name("to", r.to());
        int p = dst.position();
        dst.order(ByteOrder.LITTLE_ENDIAN);
        dst.putLong(p + REG_ID, r.regId());
        dst.putInt(p + REG_PRIORITY, r.priority());
        dst.putShort(p + REG_KIND, (short) r.kind());
        dst.putShort(p + REG_ID_LEN, (short) id.length);
        dst.putShort(p + REG_TO_LEN, (short) to.length);
        dst.putShort(p + REG_TO_LEN + 2, (short) 0);
        dst.position(p + REG_FIXED);
        dst.put(id).put(to);
    }

    /** Reads a REGISTER body from {@code [body, end)}. */
    public static Registration getRegister(ByteBuffer b, int body, int end) {
        ByteBuffer v = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        need(body + REG_FIXED <= end, "REGISTER shorter than its fixed part");
        int idLen = u16(v, body + REG_ID_LEN);
        int toLen = u16(v, body + REG_TO_LEN);
        need(idLen <= MAX_NAME && toLen <= MAX_NAME, "name longer than " + MAX_NAME);
        need(body + REG_FIXED + idLen + toLen == end, "REGISTER lengths do not fill the message");
        int kind = u16(v, body + REG_KIND);
        need(kind <= KIND_UNICAST_ERROR, "kind=" + kind);
        return new Registration(v.getLong(body + REG_ID), v.getInt(body + REG_PRIORITY), kind,
                str(v, body + REG_FIXED, idLen), str(v, body + REG_FIXED + idLen, toLen));
    }
}
