package io.jqb.notify.internal;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Canonical strings for the names (application and notification IDs) the broker reads from requests, so that routing
 * a notification decodes no string: a direct-mapped table keyed by the UTF-8 bytes; a miss decodes once and takes
 * the slot. Bounded ({@code slots} entries of at most {@link NotifyMessageDescriptor#MAX_NAME} bytes), whatever
 * names peers send. Not thread-safe (used under the broker's lock).
 */
final class NameCache {
    private final byte[][] keys;
    private final String[] values;
    private final int mask;

    /** @param slots a power of two */
    NameCache(int slots) {
        if (Integer.bitCount(slots) != 1) {
            throw new IllegalArgumentException("slots=" + slots);
        }
        keys = new byte[slots][];
        values = new String[slots];
        mask = slots - 1;
    }

    /** @return the string of {@code b[0, len)} (UTF-8), the same instance as last time when still cached */
    String get(byte[] b, int len) {
        int h = 0x811c9dc5;
        for (int i = 0; i < len; i++) {
            h = (h ^ b[i]) * 0x01000193;
        }
        int slot = (h ^ (h >>> 16)) & mask;
        byte[] k = keys[slot];
        if (k != null && Arrays.equals(k, 0, k.length, b, 0, len)) {
            return values[slot];
        }
        String s = new String(b, 0, len, StandardCharsets.UTF_8);
        keys[slot] = Arrays.copyOf(b, len);
        values[slot] = s;
        return s;
    }
}
