package io.jqb.notify;

import static io.jqb.notify.internal.NotifyMessageDescriptor.EVT_DELIVER;
import static io.jqb.notify.internal.NotifyMessageDescriptor.RESPONSE_BODY;
import static io.jqb.notify.internal.NotifyMessageDescriptor.RESULT_FIXED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Connection;
import io.jqb.Errno;
import io.jqb.RequestHeader;
import io.jqb.ResponseHeader;
import io.jqb.Service;
import io.jqb.ServiceHandler;
import io.jqb.TransportType;
import io.jqb.notify.internal.BrokerLink;
import io.jqb.notify.internal.Note;
import io.jqb.notify.internal.NoteCodec;
import io.jqb.testutil.StderrCapture;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * No broker runs, and another process holds the broker's name: it answers a client's hello and then sends it events
 * the client cannot read. The client logs them a few times a second, naming the service and the peer's pid, not
 * once per event (a squatter could fill every client's log).
 */
@Timeout(120)
class BrokerSquatterLogTest {
    private static final int COUNT = 300;

    @Test
    void badEventsFromAProcessHoldingTheBrokersNameDoNotFloodTheClientsLog() throws Exception {
        String service = NotifyTestSupport.uniqueService();
        AtomicInteger badSent = new AtomicInteger();
        CountDownLatch lastRead = new CountDownLatch(1);
        try (StderrCapture err = new StderrCapture();
                Service squatter = Service.create(service, 0, TransportType.SHM, new Squatter(badSent))) {
            squatter.run();
            long t0 = System.nanoTime();
            // the squatter sends its events after the hello's response: the last one is a readable DELIVER
            BrokerLink link = new BrokerLink(service, "victim", new BrokerLink.Owner() {
                @Override
                public void connected() {
                }

                @Override
                public void event(int eventId, Note note) {
                    if (note.id().equals("last")) {
                        lastRead.countDown();
                    }
                }
            });
            try {
                assertTrue(lastRead.await(60, TimeUnit.SECONDS), "the client did not read past the bad events");
            } finally {
                link.close();
            }
            assertEquals(COUNT, badSent.get());
            long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
            List<String> lines = err.lines("bad event from the broker of " + service,
                    "(pid " + ProcessHandle.current().pid() + ")");
            // the limiter is one for the whole JVM: only the bound is checked (and that the lines name the peer)
            assertFalse(lines.isEmpty(), "no line names the service and the squatter's pid");
            assertTrue(lines.size() <= 5 * (seconds + 2) && lines.size() < COUNT, lines.size() + " lines for "
                    + COUNT + " bad events in " + seconds + " s");
        }
    }

    /** Answers every request with OK; after the hello, {@link #COUNT} events too short to be a NOTE, then one good. */
    private static final class Squatter implements ServiceHandler {
        private final AtomicInteger badSent;
        private final RequestHeader request = new RequestHeader();
        private final ByteBuffer reply = ByteBuffer.allocateDirect(RESPONSE_BODY + RESULT_FIXED)
                .order(ByteOrder.LITTLE_ENDIAN);
        private final ByteBuffer event = ByteBuffer.allocateDirect(1024).order(ByteOrder.LITTLE_ENDIAN);

        Squatter(AtomicInteger badSent) {
            this.badSent = badSent;
        }

        @Override
        public int message(Connection c, ByteBuffer msg) {
            int id = request.wrap(msg, msg.position()).id();
            reply.clear();
            new ResponseHeader().wrap(reply, 0).set(id, reply.capacity(), 0);
            reply.putInt(RESPONSE_BODY, 0).putInt(RESPONSE_BODY + 4, 0);   // OK, 0 receivers
            c.sendResponse(reply);
            if (badSent.get() == 0) {
                for (int i = 0; i < COUNT; i++) {
                    event.clear();
                    new ResponseHeader().wrap(event, 0).set(EVT_DELIVER, RESPONSE_BODY + 8, 0);
                    event.limit(RESPONSE_BODY + 8);
                    sendEvent(c, event);
                    badSent.incrementAndGet();
                }
                event.clear().position(RESPONSE_BODY);
                NoteCodec.putNote(event, new Note(1, 0, "squatter", "victim", "last", "{}"));
                int size = event.position();
                new ResponseHeader().wrap(event, 0).set(EVT_DELIVER, size, 0);
                event.flip();
                sendEvent(c, event);
            }
            return 0;
        }

        /** The client's transport thread starts reading once its hello is answered: wait for ring space. */
        private static void sendEvent(Connection c, ByteBuffer e) {
            while (c.sendEvent(e.duplicate()) == Errno.WOULD_BLOCK) {
                Thread.onSpinWait();
            }
        }
    }
}
