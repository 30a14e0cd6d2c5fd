package io.jqb.notify;

import io.jqb.IpcException;
import io.jqb.RateLimit;
import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.WaitStrategy;
import io.jqb.internal.posix.Posix;
import io.jqb.notify.internal.BrokerConfig;
import io.jqb.notify.internal.BrokerCore;
import io.jqb.notify.internal.BrokerLock;
import io.jqb.notify.internal.NotifyMessageDescriptor;
import io.jqb.notify.internal.PeerNetwork;
import io.jqb.notify.internal.StreamPeerNetwork;
import java.nio.file.Path;

/**
 * The notification broker: one per host (per service name), serving local clients over a jqb {@link Service}
 * (libqb-compatible SHM rings, so native {@code qb_ipcc_*} programs can be clients; docs/NOTIFY-PROTOCOL.md) and,
 * with a whitelist in its configuration, brokers on other hosts over TCP.
 *
 * <!-- example: test/io/jqb/examples/NotifyExample.java#broker -->
 * <pre>{@code
 * NotificationBroker broker = NotificationBroker.start(service, null);  // null: no config, nothing crosses hosts
 * }</pre>
 *
 * <p>Who may send with a foreign {@code from}: a client whose uid (from its connection credentials) is 0 or the
 * broker's own uid; anyone else gets {@link NotifyResult#PERMISSION}.</p>
 */
public final class NotificationBroker implements AutoCloseable {
    /** The host-wide service name. */
    public static final String DEFAULT_SERVICE = "jqb-notify";

    private final String service;
    private final BrokerLock lock;
    private final BrokerCore core;
    private final Service ipc;
    private final PeerNetwork peers;

    private NotificationBroker(String service, BrokerLock lock, BrokerCore core, Service ipc, PeerNetwork peers) {
        this.service = service;
        this.lock = lock;
        this.core = core;
        this.ipc = ipc;
        this.peers = peers;
    }

    /**
     * @return the service name brokers and clients use by default: system property {@code jqb.notify.service},
     *         else environment variable {@code JQB_NOTIFY_SERVICE}, else {@value #DEFAULT_SERVICE}
     */
    public static String defaultService() {
        String s = System.getProperty("jqb.notify.service");
        if (s == null || s.isEmpty()) {
            s = System.getenv("JQB_NOTIFY_SERVICE");
        }
        return s == null || s.isEmpty() ? DEFAULT_SERVICE : s;
    }

    /**
     * Starts a broker.
     *
     * @param service the service name (tests use a private one; see {@link #defaultService()})
     * @param config the configuration file, or null for none (nothing crosses hosts)
     * @return the running broker
     * @throws NotificationException {@link NotifyResult#PERMISSION} when another broker runs for this service or
     *         its endpoint cannot be created; {@link NotifyResult#CONFIG_FILE} / {@link NotifyResult#CONFIG_SYNTAX}
     *         for the configuration file
     */
    public static NotificationBroker start(String service, Path config) {
        return start(service, config, WaitStrategy.block());
    }

    /**
     * Starts a broker whose loop waits for work as {@code wait} says: {@link WaitStrategy#block()} (the default)
     * sleeps in the kernel between notifications; a {@linkplain WaitStrategy#phased phased} strategy keeps the loop
     * spinning for a while after each one, so a sender's request needs no wake-up of the broker (lower latency, at
     * the price of the CPU the spin burns while the broker is busy).
     *
     * @param service the service name (tests use a private one; see {@link #defaultService()})
     * @param config the configuration file, or null for none (nothing crosses hosts)
     * @param wait how the broker's loop waits for work
     * @return the running broker
     * @throws NotificationException as {@link #start(String, Path)}
     */
    public static NotificationBroker start(String service, Path config, WaitStrategy wait) {
        BrokerConfig cfg = config == null ? BrokerConfig.EMPTY : BrokerConfig.load(config);
        BrokerLock lock = BrokerLock.acquire(service);
        BrokerCore core = new BrokerCore(service, cfg, Posix.C.getuid());
        Service ipc = Service.create(service, 0, TransportType.SHM, core);
        ipc.setWaitStrategy(wait);
        ipc.enforceBufferSize(NotifyMessageDescriptor.BUFFER_SIZE);
        // A broadcast writes one event per receiver: announce each receiver's events of a loop pass with one
        // send(2), and serve up to 50 queued requests per wake-up (a pipelining sender's batch) so passes are long.
        ipc.coalesceEventNotifications(true);
        ipc.requestRateLimit(RateLimit.FAST);
        try {
            ipc.run();
        } catch (IpcException e) {
            core.close();
            lock.close();
            throw new NotificationException(NotifyResult.PERMISSION, "cannot serve '" + service + "': "
                    + e.getMessage(), e);
        }
        PeerNetwork peers = null;
        if (cfg.listen() != null || !cfg.peers().isEmpty()) {
            try {
                peers = new StreamPeerNetwork(cfg.listen(), cfg.peers(), core::fromPeer);
            } catch (IpcException e) {
                ipc.close();
                core.close();
                lock.close();
                throw new NotificationException(NotifyResult.PERMISSION, "cannot listen on " + cfg.listen() + ": "
                        + e.getMessage(), e);
            }
            core.setPeers(peers);
        }
        return new NotificationBroker(service, lock, core, ipc, peers);
    }

    /** @return the service name clients connect to */
    public String service() {
        return service;
    }

    /** @return the TCP port peers connect to, or -1 when not listening */
    public int tcpPort() {
        return peers == null ? -1 : peers.port();
    }

    /** @return brokers on other hosts connected now */
    public int connectedPeers() {
        return peers == null ? 0 : peers.connectedPeers();
    }

    /** @return clients connected now */
    public int clients() {
        return core.clientCount();
    }

    /** @return registrations of every kind, over all clients */
    public int registrations() {
        return core.registrations();
    }

    /** @return the longest outbound queue of any client now (at most 1024 events / 4 MiB per client) */
    public int maxQueued() {
        return core.maxQueued();
    }

    /** @return events dropped for connected clients that did not read them (past their queue's limit) */
    public long dropped() {
        return core.dropped();
    }

    /** @return notifications from peers refused by the receive whitelist */
    public long refusedFromPeers() {
        return core.refusedFromPeers();
    }

    /** Disconnects every client and peer, removes the service's files and the lock file. */
    @Override
    public void close() {
        if (peers != null) {
            peers.close();
        }
        ipc.close();
        core.close();
        lock.close();
    }
}
