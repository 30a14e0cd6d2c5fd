package io.jqb.cli;

import io.jqb.ops.ConnectionInfo;
import io.jqb.ops.Discovery;
import io.jqb.ops.HostSnapshot;
import io.jqb.ops.RingInfo;
import io.jqb.ops.ServiceInfo;
import io.jqb.ops.StaleDirectory;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.Set;

/**
 * {@code jqb ls [--json]}: every libqb IPC service on the host (see docs/OPERATIONS.md for the columns and the JSON
 * schema). Exit 0 when listed (also when parts could not be read: they are listed), 1 when nothing could be listed,
 * 2 on a usage error.
 */
final class LsCommand {
    /** The {@code schema} member of the JSON output; bumped when a member changes meaning or goes away. */
    static final String SCHEMA = "jqb-ls/1";

    private LsCommand() {
    }

    static int run(String[] argv, PrintStream out) {
        Args a;
        try {
            a = new Args(argv, Set.of(), Set.of("--json"));
        } catch (IllegalArgumentException e) {
            System.err.println("jqb ls: " + e.getMessage());
            return 2;
        }
        HostSnapshot s;
        try {
            s = Discovery.scan();
        } catch (UncheckedIOException e) {
            System.err.println("jqb ls: " + e.getMessage() + ": " + e.getCause().getMessage());
            return 1;
        }
        out.print(a.flag("--json") ? json(s) + "\n" : text(s));
        out.flush();
        return 0;
    }

    // ------------------------------------------------------------------------------------------- text

    static String text(HostSnapshot s) {
        StringBuilder b = new StringBuilder();
        int conns = s.services().stream().mapToInt(x -> x.connections().size()).sum();
        b.append(String.format("%d service%s, %d connection%s, %d stale director%s (uid %d, scan %d ms)%n",
                s.services().size(), plural(s.services().size()), conns, plural(conns),
                s.staleDirectories().size(), s.staleDirectories().size() == 1 ? "y" : "ies", s.uid(),
                s.scanMillis()));
        if (!s.services().isEmpty()) {
            b.append(String.format("%n%-24s %-9s %-5s %-8s %s%n", "SERVICE", "TRANSPORT", "CONNS", "PID",
                    "SERVER"));
        }
        for (ServiceInfo svc : s.services()) {
            b.append(String.format("%-24s %-9s %-5d %-8s %s%n", svc.name(), svc.transport(),
                    svc.connections().size(), svc.serverPid() == 0 ? "?" : Integer.toString(svc.serverPid()),
                    cut(orUnknown(svc.serverCommand()), 60)));
            b.append("  address ").append(svc.address() == null ? "(none found)" : svc.address()).append('\n');
            for (String p : svc.problems()) {
                b.append("  ! ").append(p).append('\n');
            }
            for (ConnectionInfo c : svc.connections()) {
                b.append(String.format("  client %d %s%s%n", c.clientPid(), cut(orUnknown(c.clientCommand()), 60),
                        c.clientAlive() ? "" : " (gone)"));
                b.append("    dir ").append(c.directory()).append("  fd ").append(c.serverFd()).append('\n');
                if (!c.rings().isEmpty()) {
                    b.append(String.format("    %-9s %10s %10s %7s %8s %3s%n", "RING", "SIZE", "USED", "FILL",
                            "QUEUED", "FC"));
                    for (RingInfo r : c.rings()) {
                        b.append(String.format("    %-9s %10s %10s %7s %8s %3s%n", r.ring(), num(r.dataBytes()),
                                num(r.usedBytes()), r.fillPercent() < 0 ? "-"
                                        : String.format("%.1f%%", r.fillPercent()),
                                num(r.queued()), r.ring().equals("request") ? num(r.flowControl()) : "-"));
                    }
                }
                for (String p : c.problems()) {
                    b.append("    ! ").append(p).append('\n');
                }
            }
        }
        if (!s.staleDirectories().isEmpty()) {
            b.append("\nSTALE DIRECTORIES (no live server)\n");
            for (StaleDirectory d : s.staleDirectories()) {
                b.append(String.format("  %s  %s; client %d %s; service %s%n", d.directory(), d.reason(),
                        d.clientPid(), d.clientAlive() ? "alive" : "gone", orUnknown(d.service())));
            }
        }
        if (!s.unreadable().isEmpty()) {
            b.append("\nCOULD NOT READ").append(s.uid() == 0 ? "" : " (run as root to see everything)").append('\n');
            for (String u : s.unreadable()) {
                b.append("  ").append(u).append('\n');
            }
        }
        return b.toString();
    }

    private static String plural(int n) {
        return n == 1 ? "" : "s";
    }

    private static String num(long v) {
        return v < 0 ? "-" : Long.toString(v);
    }

    private static String orUnknown(String s) {
        return s == null ? "?" : s;
    }

    static String cut(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 3) + "...";
    }

    // ------------------------------------------------------------------------------------------- JSON

    static String json(HostSnapshot s) {
        Json j = new Json().beginObject();
        j.field("schema", SCHEMA).field("uid", s.uid()).field("scanMillis", s.scanMillis());
        j.name("services").beginArray();
        for (ServiceInfo svc : s.services()) {
            j.beginObject().field("name", svc.name()).field("address", svc.address()).field("inode", svc.inode())
                    .field("serverPid", svc.serverPid()).field("serverCommand", svc.serverCommand())
                    .field("transport", svc.transport().name()).strings("problems", svc.problems());
            j.name("connections").beginArray();
            for (ConnectionInfo c : svc.connections()) {
                connection(j, c);
            }
            j.endArray().endObject();
        }
        j.endArray();
        j.name("staleDirectories").beginArray();
        for (StaleDirectory d : s.staleDirectories()) {
            j.beginObject().field("directory", d.directory()).field("serverPid", d.serverPid())
                    .field("clientPid", d.clientPid()).field("clientAlive", d.clientAlive())
                    .field("service", d.service()).field("reason", d.reason()).endObject();
        }
        j.endArray();
        j.strings("unreadable", s.unreadable());
        return j.endObject().toString();
    }

    static void connection(Json j, ConnectionInfo c) {
        j.beginObject().field("service", c.service()).field("serverPid", c.serverPid())
                .field("clientPid", c.clientPid()).field("clientCommand", c.clientCommand())
                .field("clientAlive", c.clientAlive()).field("serverFd", c.serverFd())
                .field("directory", c.directory()).field("transport", c.transport().name());
        j.name("rings").beginArray();
        for (RingInfo r : c.rings()) {
            j.beginObject().field("ring", r.ring()).field("dataBytes", r.dataBytes())
                    .field("writePointer", r.writePointer()).field("readPointer", r.readPointer())
                    .field("usedBytes", r.usedBytes()).field("fillPercent", r.fillPercent())
                    .field("queued", r.queued()).field("refCount", r.refCount())
                    .field("flowControl", r.flowControl()).field("error", r.error()).endObject();
        }
        j.endArray().strings("problems", c.problems()).endObject();
    }
}
