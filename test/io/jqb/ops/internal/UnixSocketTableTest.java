package io.jqb.ops.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class UnixSocketTableTest {
    private static String padded(String name) {
        return "@" + name + "@".repeat(UnixSocketTable.SUN_PATH_LENGTH - 1 - name.length());
    }

    @Test
    void parsesListenersAbstractAndFilesystemPathsAndSkipsJunk() {
        String table = String.join("\n",
                "Num       RefCount Protocol Flags    Type St Inode Path",
                "0000000012345678: 00000002 00000000 00010000 0001 01 31337 " + padded("echo"),
                "00000000abcdef01: 00000003 00000000 00000000 0001 03  1587",
                "00000000abcdef02: 00000002 00000000 00010000 0001 01 4242 /tmp/with space",
                "00000000abcdef03: 00000002 00000000 00000000 0002 01 99 @/dev/shm/qb-1-2-3-abcdef/qb-x-request",
                "garbage line",
                "");
        List<UnixSocketTable.Entry> es = UnixSocketTable.parse(table);
        assertEquals(4, es.size());
        UnixSocketTable.Entry echo = es.get(0);
        assertTrue(echo.listening());
        assertEquals(UnixSocketTable.TYPE_STREAM, echo.type());
        assertEquals(31337, echo.inode());
        assertEquals("echo", echo.paddedAbstractName());
        assertNull(es.get(1).path());
        assertFalse(es.get(1).listening());
        assertEquals("/tmp/with space", es.get(2).path());
        assertNull(es.get(2).paddedAbstractName());
        assertEquals(UnixSocketTable.TYPE_DGRAM, es.get(3).type());
        assertNull(es.get(3).paddedAbstractName(), "not padded to the whole sun_path");
    }

    @Test
    void aNameOfNothingButPaddingIsNotAName() {
        UnixSocketTable.Entry e = UnixSocketTable.parseLine(
                "0000000012345678: 00000002 00000000 00010000 0001 01 1 " + "@".repeat(108));
        assertNull(e.paddedAbstractName());
    }
}
