package io.jqb.testutil;

import io.jqb.ResponseHeader;
import io.jqb.RequestHeader;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The echo contract on the wire, as qbn-server, {@code io.jqb.cli.EchoHandler} and {@code jqb check} speak it:
 * <ul>
 * <li>request {id, 16+n} + n payload bytes;</li>
 * <li>id 1 (ECHO): response {1, 24+n, 0} + the payload;</li>
 * <li>id 2 (EVENT): response {2, 24, 0}, then event {2, 24+n, 0} + the payload;</li>
 * <li>other ids: response {id, 24, -EINVAL}.</li>
 * </ul>
 * Payloads are {@code byte i = (i + seed) * 31 + 7}; seed 0 is qbn-server's own pattern. A different seed per message
 * makes a stale or misplaced payload fail the byte-for-byte comparison.
 */
public final class EchoWire {
    public static final int ECHO = 1;
    public static final int EVENT = 2;
    public static final int REQUEST_HEADER = RequestHeader.LENGTH;
    public static final int RESPONSE_HEADER = ResponseHeader.LENGTH;
    public static final int EINVAL = 22;
    /** Largest seed the pattern table supports. */
    public static final int MAX_SEED = 4096;
    private static final int MAX_PAYLOAD = 2 * 1024 * 1024;
    private static final byte[] PATTERN = new byte[MAX_PAYLOAD + MAX_SEED];

    static {
        for (int i = 0; i < PATTERN.length; i++) {
            PATTERN[i] = (byte) (i * 31 + 7);
        }
    }

    private EchoWire() {
    }

    /** A buffer big enough for any message of a connection with buffer size {@code size}. */
    public static ByteBuffer buffer(int size) {
        return ByteBuffer.allocateDirect(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Fills {@code buf} with request {id, 16+n} + n pattern bytes (seed); position 0, limit 16+n. */
    public static ByteBuffer request(ByteBuffer buf, int id, int n, int seed) {
        buf.clear();
        buf.order(ByteOrder.LITTLE_ENDIAN);
        new RequestHeader().wrap(buf, 0).set(id, REQUEST_HEADER + n);
        buf.put(REQUEST_HEADER, PATTERN, seed, n);
        buf.limit(REQUEST_HEADER + n);
        return buf;
    }

    public static ByteBuffer request(ByteBuffer buf, int id, int n) {
        return request(buf, id, n, 0);
    }

    /** A heap buffer holding n pattern bytes (seed). */
    public static ByteBuffer payload(int n, int seed) {
        return ByteBuffer.wrap(PATTERN, seed, n).slice();
    }

    /** A 16-byte request header {id, 16+n}. */
    public static ByteBuffer requestHeader(int id, int n) {
        ByteBuffer h = ByteBuffer.allocate(REQUEST_HEADER).order(ByteOrder.LITTLE_ENDIAN);
        new RequestHeader().wrap(h, 0).set(id, REQUEST_HEADER + n);
        return h;
    }

    /**
     * @return null when {@code buf[at, at+len)} is the response {id, 24+n, error} + n pattern bytes (seed), else
     *         what differs
     */
    public static String checkResponse(ByteBuffer buf, int at, int len, int id, int n, int error, int seed) {
        if (len != RESPONSE_HEADER + n) {
            return "length " + len + " != " + (RESPONSE_HEADER + n)
                    + (len >= RESPONSE_HEADER ? " (header " + header(buf, at) + ")" : "");
        }
        ResponseHeader h = new ResponseHeader().wrap(buf, at);
        if (h.id() != id || h.size() != len || h.error() != error) {
            return "header " + header(buf, at) + " != {" + id + ", " + len + ", " + error + "}";
        }
        ByteBuffer b = buf.duplicate();
        int m = b.slice(at + RESPONSE_HEADER, n).mismatch(ByteBuffer.wrap(PATTERN, seed, n).slice());
        if (m >= 0) {
            return "payload byte " + m + " of " + n + " is " + b.get(at + RESPONSE_HEADER + m) + ", expected "
                    + PATTERN[seed + m];
        }
        return null;
    }

    private static String header(ByteBuffer buf, int at) {
        ResponseHeader h = new ResponseHeader().wrap(buf, at);
        return "{" + h.id() + ", " + h.size() + ", " + h.error() + "}";
    }

    /** Asserts that {@code buf[0, len)} is the response {id, 24+n, error} + n pattern bytes (seed). */
    public static void assertResponse(ByteBuffer buf, int len, int id, int n, int error, int seed) {
        String why = checkResponse(buf, 0, len, id, n, error, seed);
        if (why != null) {
            fail("response to id " + id + " with " + n + " payload bytes (seed " + seed + "): " + why);
        }
    }

    public static void assertEcho(ByteBuffer buf, int len, int n, int seed) {
        assertResponse(buf, len, ECHO, n, 0, seed);
    }

    /** Asserts the 24-byte header-only response {id, 24, error}. */
    public static void assertHeaderOnly(ByteBuffer buf, int len, int id, int error) {
        assertEquals(RESPONSE_HEADER, len, "length of the header-only response to id " + id);
        assertResponse(buf, len, id, 0, error, 0);
    }
}
