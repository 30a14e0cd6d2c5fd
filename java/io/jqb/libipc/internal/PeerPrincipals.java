package io.jqb.libipc.internal;

import io.jqb.internal.posix.Posix;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import jdk.net.UnixDomainPrincipal;

/**
 * Turns SO_PEERCRED numbers into the JDK's {@link UnixDomainPrincipal}, as {@code SocketChannel.getOption} gives it
 * for a channel. The JDK looks principals up by name only: this process's own uid gets its user name
 * ({@code user.name}); any other uid and every gid are looked up by number (the principal's name is then the number,
 * its identity the same).
 */
public final class PeerPrincipals {
    private PeerPrincipals() {
    }

    /**
     * @param cred {pid, uid, gid}
     * @return the principal
     * @throws IOException when the lookup service fails
     */
    public static UnixDomainPrincipal of(int[] cred) throws IOException {
        UserPrincipalLookupService lookup = FileSystems.getDefault().getUserPrincipalLookupService();
        UserPrincipal user = null;
        if (cred[1] == Posix.C.getuid()) {
            try {
                user = lookup.lookupPrincipalByName(System.getProperty("user.name"));
            } catch (IOException e) {
                user = null; // not in the user database: by number below
            }
        }
        if (user == null) {
            user = lookup.lookupPrincipalByName(Integer.toUnsignedString(cred[1]));
        }
        GroupPrincipal group = lookup.lookupPrincipalByGroupName(Integer.toUnsignedString(cred[2]));
        return new UnixDomainPrincipal(user, group);
    }
}
