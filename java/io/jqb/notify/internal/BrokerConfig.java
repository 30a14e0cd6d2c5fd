package io.jqb.notify.internal;

import io.jqb.notify.NotificationException;
import io.jqb.notify.NotifyResult;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The broker's configuration file (docs/NOTIFY-PROTOCOL.md, "Configuration"). One directive per line, two words:
 * <pre>
 * # comment
 * send ID            # notifications with this ID sent here go to the peers
 * receive ID         # notifications with this ID from peers are delivered here
 * listen [ADDR:]PORT # TCP for peers; ADDR defaults to 0.0.0.0 (all interfaces)
 * peer HOST:PORT     # a broker to connect to (the link carries both directions)
 * </pre>
 * Without {@code send}/{@code receive} lines (empty whitelist) nothing crosses hosts and a {@code listen} address
 * must be loopback; with a non-empty whitelist and no {@code listen} line the broker listens on 0.0.0.0:7411.
 */
public record BrokerConfig(Set<String> send, Set<String> receive, InetSocketAddress listen,
        List<InetSocketAddress> peers) {
    /** Port used when the whitelist is non-empty and no {@code listen} line is given. */
    public static final int DEFAULT_PORT = 7411;

    /** No whitelist, no TCP. */
    public static final BrokerConfig EMPTY = new BrokerConfig(Set.of(), Set.of(), null, List.of());

    /** @return true when any notification ID may cross hosts */
    public boolean whitelisted() {
        return !send.isEmpty() || !receive.isEmpty();
    }

    /**
     * @throws NotificationException {@link NotifyResult#CONFIG_FILE} when unreadable,
     *         {@link NotifyResult#CONFIG_SYNTAX} with {@code file:line:} when malformed
     */
    public static BrokerConfig load(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            throw new NotificationException(NotifyResult.CONFIG_FILE, "cannot read " + file + ": " + e, e);
        }
        return parse(file.toString(), lines);
    }

    /** Parses {@code lines}; {@code name} prefixes error messages. */
    public static BrokerConfig parse(String name, List<String> lines) {
        Set<String> send = new LinkedHashSet<>();
        Set<String> receive = new LinkedHashSet<>();
        List<InetSocketAddress> peers = new ArrayList<>();
        InetSocketAddress listen = null;
        int listenLine = 0;
        for (int i = 0; i < lines.size(); i++) {
            int no = i + 1;
            String line = lines.get(i);
            int hash = line.indexOf('#');
            String text = (hash >= 0 ? line.substring(0, hash) : line).strip();
            if (text.isEmpty()) {
                continue;
            }
            String[] w = text.split("\\s+");
            if (w.length != 2) {
                throw syntax(name, no, "expected '<directive> <value>', got " + w.length + " words: '" + text + "'");
            }
            switch (w[0]) {
                case "send" -> addId(send, w[1], name, no);
                case "receive" -> addId(receive, w[1], name, no);
                case "listen" -> {
                    if (listen != null) {
                        throw syntax(name, no, "second 'listen' (first on line " + listenLine + ")");
                    }
                    listen = address(w[1], "0.0.0.0", name, no);
                    listenLine = no;
                }
                case "peer" -> peers.add(address(w[1], null, name, no));
                default -> throw syntax(name, no, "unknown directive '" + w[0]
                        + "' (expected send, receive, listen or peer)");
            }
        }
        boolean white = !send.isEmpty() || !receive.isEmpty();
        if (listen != null && !white && !listen.getAddress().isLoopbackAddress()) {
            throw syntax(name, listenLine, "'listen' on " + listen.getAddress().getHostAddress()
                    + " with an empty whitelist: only a loopback address is allowed without send/receive lines");
        }
        if (listen == null && white) {
            listen = new InetSocketAddress(DEFAULT_PORT);
        }
        return new BrokerConfig(Set.copyOf(send), Set.copyOf(receive), listen, List.copyOf(peers));
    }

    private static void addId(Set<String> set, String id, String name, int no) {
        if (id.equals(RoutingTable.ALL) || id.equals(RoutingTable.ANY_ONE)) {
            throw syntax(name, no, "'" + id + "' is not a notification ID");
        }
        if (id.getBytes(StandardCharsets.UTF_8).length > NotifyMessageDescriptor.MAX_NAME) {
            throw syntax(name, no, "notification ID longer than " + NotifyMessageDescriptor.MAX_NAME + " bytes");
        }
        set.add(id);
    }

    private static InetSocketAddress address(String v, String defaultHost, String name, int no) {
        int colon = v.lastIndexOf(':');
        String host = colon < 0 ? defaultHost : v.substring(0, colon);
        String port = colon < 0 ? v : v.substring(colon + 1);
        if (host == null || host.isEmpty()) {
            throw syntax(name, no, "expected HOST:PORT, got '" + v + "'");
        }
        int p;
        try {
            p = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw syntax(name, no, "port '" + port + "' is not a number");
        }
        if (p < 0 || p > 65535) {
            throw syntax(name, no, "port " + p + " out of range 0..65535");
        }
        try {
            return new InetSocketAddress(InetAddress.getByName(host), p);
        } catch (UnknownHostException e) {
            throw syntax(name, no, "unknown host '" + host + "'");
        }
    }

    private static NotificationException syntax(String name, int no, String what) {
        return new NotificationException(NotifyResult.CONFIG_SYNTAX, name + ":" + no + ": " + what);
    }
}
