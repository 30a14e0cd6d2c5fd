package io.jqb.libipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/** The C formatting helpers' counterparts. */
class IpcMessageTest {
    @Test
    void formatDataCopiesThePayload() {
        byte[] b = {1, 2, 3};
        IpcMessage m = IpcMessage.formatData(b);
        b[0] = 9;
        assertEquals(IpcMessage.DATA, m.type());
        assertEquals(3, m.length());
        assertArrayEquals(new byte[] {1, 2, 3}, m.payloadBytes());
        ByteBuffer src = ByteBuffer.wrap(new byte[] {4, 5, 6});
        src.position(1);
        IpcMessage n = IpcMessage.formatData(src);
        assertEquals(1, src.position(), "source position unchanged");
        assertArrayEquals(new byte[] {5, 6}, n.payloadBytes());
    }

    @Test
    void serverCloseAndEmpty() {
        IpcMessage sc = IpcMessage.formatServerClose();
        assertEquals(IpcMessage.SERVER_CLOSE, sc.type());
        assertEquals(0, sc.length());
        IpcMessage e = IpcMessage.empty(IpcMessage.ERR);
        assertEquals(1, e.type());
        assertEquals(0, e.length());
        assertEquals(0, IpcMessage.formatData((ByteBuffer) null).length());
    }

    @Test
    void readingThePayloadDoesNotChangeTheMessage() {
        IpcMessage m = IpcMessage.format((byte) 77, ByteBuffer.wrap(new byte[] {1, 2}));
        m.payload().get();
        assertEquals(2, m.length());
        assertEquals(2, m.payload().remaining(), "each call rewinds");
        assertArrayEquals(new byte[] {1, 2}, m.copy().payloadBytes());
        assertEquals(77, m.copy().type());
    }
}
