package io.jqb.internal.socket;

import static io.jqb.internal.posix.Posix.C;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jqb.internal.posix.LibC;
import io.jqb.internal.posix.Posix;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Datagrams over a real AF_UNIX datagram socket pair: heap, empty and gathered messages arrive whole. */
class DatagramsTest {
    private int a = -1;
    private int b = -1;
    private long recvBuf;

    @BeforeEach
    void pair() {
        long sv = Posix.MEM.allocate(8);
        try {
            assertEquals(0, C.socketpair(LibC.AF_UNIX, LibC.SOCK_DGRAM, 0, sv), "socketpair");
            a = Posix.MEM.readInt(sv);
            b = Posix.MEM.readInt(sv + 4);
        } finally {
            Posix.MEM.freeMemory(sv, 8);
        }
        recvBuf = Posix.MEM.allocate(4096);
    }

    @AfterEach
    void close() {
        C.close(a);
        C.close(b);
        Posix.MEM.freeMemory(recvBuf, 4096);
    }

    private long receive() {
        return C.recv(b, recvBuf, 4096, LibC.MSG_DONTWAIT);
    }

    @Test
    void anEmptyHeapMessageIsAnEmptyDatagram() {
        Datagrams d = new Datagrams(1024);
        try {
            assertEquals(0, d.send(a, ByteBuffer.allocate(0)), "a fresh instance sends an empty heap buffer");
            assertEquals(0, receive(), "the peer gets a 0-byte datagram");
            assertEquals(0, d.send(a, new ByteBuffer[] {ByteBuffer.allocate(0), ByteBuffer.allocate(0)}));
            assertEquals(0, receive());
        } finally {
            d.close();
        }
    }

    @Test
    void heapAndGatheredMessagesGrowTheScratchAndArriveWhole() {
        Datagrams d = new Datagrams(4096);
        try {
            byte[] small = {1, 2, 3};
            assertEquals(3, d.send(a, ByteBuffer.wrap(small)));
            assertEquals(3, receive());
            assertEquals(3, Posix.MEM.readByte(recvBuf + 2));
            byte[] big = new byte[3000];
            big[2999] = 42;
            assertEquals(3003, d.send(a, new ByteBuffer[] {ByteBuffer.wrap(small), ByteBuffer.wrap(big)}));
            assertEquals(3003, receive());
            assertEquals(42, Posix.MEM.readByte(recvBuf + 3002));
        } finally {
            d.close();
        }
    }
}
