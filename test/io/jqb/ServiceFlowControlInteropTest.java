package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeClient.Msg;
import io.jqb.testutil.RecordingHandler;
import org.junit.jupiter.api.Test;

/**
 * {@code request_rate_limit} against native clients: the flow-control flag in the request ring stops their sends,
 * the server stops reading, and traffic resumes when the limit is lifted.
 */
class ServiceFlowControlInteropTest extends InteropTestBase {

    @Test
    void rateLimitOffMakesNativeSendFailWithEagainAndNormalLetsTrafficFlow() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        nc.echo(10);
        Connection c = connectionOf(s, nc);

        s.requestRateLimit(RateLimit.OFF);
        assertEquals(RateLimit.OFF, s.rateLimit());
        nc.expect("send 1 10", "err EAGAIN");
        nc.expect("send 2 0", "err EAGAIN");
        ConnectionStats st = c.stats(false);
        assertEquals(1, st.flowControlState());
        assertEquals(1, st.flowControlCount());
        assertEquals(1, st.requests());

        s.requestRateLimit(RateLimit.NORMAL);
        nc.expect("send 1 10", "ok");
        assertEquals(new Msg(1, 34, 0, 34), nc.receive("recv 2000"));
        nc.echo(5000);
        st = settledStats(c, 3, 0);
        assertEquals(0, st.flowControlState());
        assertEquals(2, st.flowControlCount());
        assertEquals(3, st.requests());
        assertEquals(3, st.responses());
    }

    @Test
    void requestsQueuedWhileOffAreServedOnceTheLimitIsLifted() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        Connection c = connectionOf(s, nc);
        nc.expect("fcmax 0", "ok"); // this client ignores the flag: its requests reach the ring
        s.requestRateLimit(RateLimit.OFF);
        for (int i = 0; i < 3; i++) {
            nc.expect("send 1 " + (20 + i), "ok");
        }
        nc.expect("recv 300", "err ETIMEDOUT");
        assertEquals(0, c.stats(false).requests(), "the server must not read requests while flow control is on");

        s.requestRateLimit(RateLimit.NORMAL);
        for (int i = 0; i < 3; i++) {
            assertEquals(new Msg(1, 44 + i, 0, 44 + i), nc.receive("recv 2000"));
        }
        assertEquals(3, c.stats(false).requests());
        nc.echo(1);
    }

    @Test
    void rateLimitOff2StopsOnlyClientsThatRaisedFcEnableMax() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient lenient = drive(s.name());
        NativeClient strict = drive(s.name());
        lenient.connect();
        strict.connect();
        strict.expect("fcmax 2", "ok");
        s.requestRateLimit(RateLimit.OFF_2);
        strict.expect("send 1 0", "err EAGAIN");
        lenient.expect("send 1 0", "ok"); // flag 2 > fc_enable_max 1: the client sends ...
        lenient.expect("recv 300", "err ETIMEDOUT"); // ... but the server is not reading
        assertEquals(2, connectionOf(s, strict).stats(false).flowControlState());

        s.requestRateLimit(RateLimit.FAST);
        assertEquals(new Msg(1, 24, 0, 24), lenient.receive("recv 2000"));
        strict.echo(100);
        ConnectionStats st = connectionOf(s, strict).stats(false);
        assertEquals(0, st.flowControlState());
        assertEquals(2, st.flowControlCount());
    }

    @Test
    void prioritiesChangeNothingButTheLoopOrder() throws Exception {
        RecordingHandler h = new RecordingHandler();
        Service s = start(h);
        NativeClient nc = drive(s.name());
        nc.connect();
        for (RateLimit rl : new RateLimit[] {RateLimit.FAST, RateLimit.SLOW, RateLimit.NORMAL}) {
            s.requestRateLimit(rl);
            for (int i = 0; i < 20; i++) {
                nc.echo(i * 100);
            }
        }
        ConnectionStats st = connectionOf(s, nc).stats(false);
        assertEquals(60, st.requests());
        assertEquals(0, st.flowControlCount());
        assertEquals(0, st.flowControlState());
    }
}
