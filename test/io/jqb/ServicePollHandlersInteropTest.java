package io.jqb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.InteropTestBase;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeClient.CheckResult;
import io.jqb.testutil.PollLoop;
import io.jqb.testutil.RecordingHandler;
import io.jqb.testutil.ShmAssert;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Services on the user's own loop ({@code qb_ipcs_poll_handlers_set}): a poll(2) loop that knows nothing of
 * {@link EventLoop}, and one {@link EventLoop} shared by two services.
 */
class ServicePollHandlersInteropTest extends InteropTestBase {

    @Test
    void serviceRunsOnAUserSuppliedPollLoop() throws Exception {
        PollLoop loop = track(new PollLoop("user-poll-loop"));
        RecordingHandler h = new RecordingHandler();
        Service s = Service.create(serviceName(), 3, TransportType.SHM, h);
        s.setPollHandlers(loop);
        s.run();
        track(() -> loop.runAndWait(s::close)); // with the user's loop, destroy runs on that loop's thread
        assertThrows(IllegalStateException.class, () -> s.setPollHandlers(loop));
        assertEquals(1, loop.adds.get(), "run() registers the listening socket");
        assertEquals(1, loop.watched());

        CheckResult r = NativeClient.check(s.name(), 0, Duration.ofSeconds(60));
        r.assertPassed();
        assertCountSettles("destroyed", h.destroyed, 1);
        assertTrue(loop.dispatches.get() > 20_000, "dispatches=" + loop.dispatches.get());
        assertEquals(1, loop.watched(), "only the listener is left after the client went away");
        for (String cb : List.of("accept", "created", "message", "closed", "destroyed")) {
            assertEquals("user-poll-loop", h.threads.get(cb), cb + " ran on " + h.threads.get(cb));
        }

        // rate limit goes through dispatch_mod; a server-side disconnect through job_add
        NativeClient nc = drive(s.name());
        nc.connect();
        nc.echo(100);
        int mods = loop.mods.get();
        s.requestRateLimit(RateLimit.OFF);
        assertTrue(loop.mods.get() > mods, "requestRateLimit did not re-register the connection");
        nc.expect("send 1 0", "err EAGAIN");
        s.requestRateLimit(RateLimit.NORMAL);
        nc.echo(65_000);
        int jobs = loop.jobsAdded.get();
        connectionOf(s, nc).disconnect();
        assertTrue(loop.jobsAdded.get() > jobs, "disconnect did not queue its teardown as a job");
        nc.expect("recv 300", "err ENOTCONN");
        assertCountSettles("destroyed", h.destroyed, 2);

        // destroy from the loop thread withdraws the listener too
        NativeClient other = drive(s.name());
        other.connect();
        loop.runAndWait(s::close);
        assertEquals(0, loop.watched(), "fds left registered after destroy");
        assertEquals(loop.adds.get(), loop.dels.get());
        other.expect("recv 300", "err ENOTCONN");
        ShmAssert.assertNoneLeft();
        assertEquals(List.of("dispatchAdd from " + Thread.currentThread().getName()), loop.foreignCalls,
                "only run() may register from outside the loop");
        assertNoHookErrors(h);
    }

    @Test
    void twoServicesShareOneEventLoop() throws Exception {
        EventLoop loop = track(new EventLoop("shared-loop").start());
        RecordingHandler ha = new RecordingHandler();
        RecordingHandler hb = new RecordingHandler();
        Service a = Service.create(serviceName("a"), 1, TransportType.SHM, ha);
        Service b = Service.create(serviceName("b"), 2, TransportType.SHM, hb);
        for (Service s : new Service[] {a, b}) {
            s.setPollHandlers(loop);
            s.run();
            track(() -> {
                CompletableFuture<Void> done = new CompletableFuture<>();
                loop.jobAdd(Priority.HIGH, () -> {
                    s.close();
                    done.complete(null);
                });
                done.get(10, TimeUnit.SECONDS);
            });
        }
        Map<Service, NativeClient> clients = Map.of(a, drive(a.name()), b, drive(b.name()));
        clients.forEach((s, nc) -> {
            nc.connect();
            for (int n = 0; n < 30_000; n += 997) {
                nc.echo(n);
            }
        });
        assertEquals(31, connectionOf(a, clients.get(a)).stats(false).requests());
        assertEquals(31, connectionOf(b, clients.get(b)).stats(false).requests());
        assertEquals("shared-loop", ha.threads.get("message"));
        assertEquals("shared-loop", hb.threads.get("message"));
    }
}
