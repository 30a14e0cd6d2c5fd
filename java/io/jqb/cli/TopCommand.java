package io.jqb.cli;

import io.jqb.ops.ActivitySampler;
import io.jqb.ops.ConnectionActivity;
import io.jqb.ops.ConnectionInfo;
import io.jqb.ops.RingInfo;
import io.jqb.ops.RingRate;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code jqb top [--interval MS] [--once]}: messages/s and bytes/s per ring of every libqb SHM connection, busiest
 * first, refreshed every interval. Plain lines, one per ring (so it works in a pipe); on a terminal the screen is
 * cleared between refreshes and the keyboard is put in raw mode ({@code stty}) so that {@code q} quits at once.
 * Exit 0 (quit, end of {@code --once}, or SIGINT), 1 when nothing could be listed, 2 on a usage error.
 */
final class TopCommand {
    static final String HEADER = String.format("%-24s %7s %7s %-8s %10s %12s %6s %7s  %s", "SERVICE", "SERVER",
            "CLIENT", "RING", "MSGS/S", "BYTES/S", "FILL%", "QUEUED", "COMMAND");

    private TopCommand() {
    }

    static int run(String[] argv, PrintStream out) {
        Args a;
        long interval;
        try {
            a = new Args(argv, Set.of("--interval"), Set.of("--once"));
            interval = a.getInt("--interval", 1000);
            if (interval < 10 || interval > 3_600_000) {
                throw new IllegalArgumentException("--interval must be 10..3600000 ms");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("jqb top: " + e.getMessage());
            return 2;
        }
        boolean once = a.flag("--once");
        boolean tty = System.console() != null;
        AtomicBoolean quit = new AtomicBoolean();
        Signals.onTermination(() -> quit.set(true));   // SIGINT/SIGTERM: restore the terminal, exit 0
        String saved = null;
        if (!once) {
            saved = tty ? rawTerminal() : null;
            startKeyReader(System.in, quit);
        }
        String restore = saved;
        Thread restorer = new Thread(() -> restoreTerminal(restore), "jqb-top-tty");
        if (restore != null) {
            Runtime.getRuntime().addShutdownHook(restorer);
        }
        try (ActivitySampler sampler = new ActivitySampler()) {
            do {
                List<ConnectionActivity> rows = sampler.measure(Duration.ofMillis(interval), quit::get);
                if (quit.get() && !once) {
                    break;
                }
                if (tty && !once) {
                    out.print("\033[H\033[2J");
                }
                out.print(format(rows, interval));
                out.flush();
                if (out.checkError()) {
                    break;   // the reader went away (e.g. `jqb top | head`): nobody to refresh for
                }
            } while (!once && !quit.get());
        } catch (UncheckedIOException e) {
            System.err.println("jqb top: " + e.getMessage() + ": " + e.getCause().getMessage());
            return 1;
        } finally {
            if (restore != null) {
                restoreTerminal(restore);
                Runtime.getRuntime().removeShutdownHook(restorer);
            }
        }
        return 0;
    }

    static String format(List<ConnectionActivity> rows, long interval) {
        StringBuilder b = new StringBuilder();
        long services = rows.stream().map(r -> r.service().name()).distinct().count();
        b.append(String.format("jqb top  %s  interval %d ms  %d connection%s of %d service%s%n",
                LocalTime.now().truncatedTo(ChronoUnit.SECONDS), interval, rows.size(), rows.size() == 1 ? "" : "s",
                services, services == 1 ? "" : "s"));
        b.append(HEADER).append('\n');
        for (ConnectionActivity r : rows) {
            ConnectionInfo c = r.connection();
            String cmd = LsCommand.cut(c.clientCommand() == null ? "?" : c.clientCommand(), 40);
            if (r.rates().isEmpty()) {
                b.append(String.format("%-24s %7d %7d %-8s %10s %12s %6s %7s  %s%n", name(r), c.serverPid(),
                        c.clientPid(), c.transport() == io.jqb.ops.Transport.SOCKET ? "(socket)" : "(unknown)", "-",
                        "-", "-", "-", cmd));
                continue;
            }
            for (RingRate rate : r.rates()) {
                RingInfo ring = c.ring(rate.ring());
                b.append(String.format("%-24s %7d %7d %-8s %10s %12d %6s %7s  %s%n", name(r), c.serverPid(),
                        c.clientPid(), rate.ring(),
                        (rate.estimated() ? "~" : "") + Math.round(rate.messagesPerSecond()),
                        Math.round(rate.bytesPerSecond()),
                        ring == null || ring.fillPercent() < 0 ? "-" : String.format("%.1f", ring.fillPercent()),
                        ring == null || ring.queued() < 0 ? "-" : Long.toString(ring.queued()), cmd));
            }
        }
        if (rows.stream().anyMatch(r -> r.rates().stream().anyMatch(RingRate::estimated))) {
            b.append("~ estimated: chunks were overwritten before they could be counted (see docs/OPERATIONS.md)\n");
        }
        return b.toString();
    }

    private static String name(ConnectionActivity r) {
        return LsCommand.cut(r.service().name(), 24);
    }

    /** Reads keys on a daemon thread; {@code q} (or Q) sets {@code quit}. End of input does not quit. */
    static void startKeyReader(InputStream in, AtomicBoolean quit) {
        Thread t = new Thread(() -> {
            try {
                int c;
                while ((c = in.read()) >= 0) {
                    if (c == 'q' || c == 'Q') {
                        quit.set(true);
                        return;
                    }
                }
            } catch (IOException e) {
                // no keyboard: run until interrupted
            }
        }, "jqb-top-keys");
        t.setDaemon(true);
        t.start();
    }

    /** Puts the terminal on stdin in raw mode (no line buffering, no echo); returns the settings to restore. */
    private static String rawTerminal() {
        String saved = stty("-g");
        if (saved != null) {
            stty("-icanon", "-echo", "min", "1");
        }
        return saved;
    }

    private static void restoreTerminal(String saved) {
        if (saved != null) {
            stty(saved.strip());
        }
    }

    private static String stty(String... args) {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "stty";
        System.arraycopy(args, 0, cmd, 1, args.length);
        try {
            Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.INHERIT)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII);
            return p.waitFor() == 0 ? out : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
