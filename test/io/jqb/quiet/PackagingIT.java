package io.jqb.quiet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Packaging (issue 9, item 10), checked on the artifacts {@code package} built: the library jar holds no CLI and names
 * its module, the CLI is its own jar, sources and javadoc jars exist and the javadoc shows public packages only, and
 * every build plugin's version is pinned in pom.xml.
 */
class PackagingIT {
    private static final Path TARGET = Path.of("target").toAbsolutePath();

    private static List<String> entries(String jar) throws IOException {
        try (JarFile j = new JarFile(TARGET.resolve(jar).toFile())) {
            return Collections.list(j.entries()).stream().map(e -> e.getName()).collect(Collectors.toList());
        }
    }

    @Test
    void libraryJarHasNoCliAndNamesItsModule() throws IOException {
        List<String> lib = entries("jqb.jar");
        assertTrue(lib.contains("io/jqb/Service.class"));
        assertTrue(lib.stream().noneMatch(e -> e.startsWith("io/jqb/cli/")), "CLI classes in jqb.jar");
        try (JarFile j = new JarFile(TARGET.resolve("jqb.jar").toFile())) {
            assertEquals("io.jqb", j.getManifest().getMainAttributes().getValue("Automatic-Module-Name"));
        }
        List<String> cli = entries("jqb-cli.jar");
        assertTrue(cli.contains("io/jqb/cli/Main.class"));
        assertTrue(cli.stream().filter(e -> e.endsWith(".class")).allMatch(e -> e.startsWith("io/jqb/cli/")),
                "only the CLI in jqb-cli.jar");
    }

    @Test
    void sourcesAndJavadocJarsShowTheLibraryOnly() throws IOException {
        List<String> src = entries("jqb-sources.jar");
        assertTrue(src.contains("io/jqb/Service.java"));
        assertTrue(src.stream().noneMatch(e -> e.startsWith("io/jqb/cli/")));
        List<String> doc = entries("jqb-javadoc.jar");
        assertTrue(doc.contains("io/jqb/Service.html"), "javadoc of io.jqb");
        assertTrue(doc.stream().noneMatch(e -> e.contains("/internal/") || e.startsWith("io/jqb/cli/")),
                "internals or the CLI in the published javadoc: "
                        + doc.stream().filter(e -> e.contains("/internal/") || e.contains("/cli/")).limit(5)
                                .collect(Collectors.toList()));
    }

    @Test
    void everyPluginVersionIsPinned() throws IOException {
        String pom = Files.readString(Path.of("pom.xml"));
        Matcher m = Pattern.compile("<plugin>(.*?)</plugin>", Pattern.DOTALL).matcher(pom);
        List<String> unpinned = new ArrayList<>();
        List<String> seen = new ArrayList<>();
        while (m.find()) {
            Matcher a = Pattern.compile("<artifactId>([^<]+)</artifactId>").matcher(m.group(1));
            assertTrue(a.find());
            seen.add(a.group(1));
            if (!Pattern.compile("<artifactId>[^<]+</artifactId>\\s*<version>[0-9][^<$]*</version>")
                    .matcher(m.group(1)).find()) {
                unpinned.add(a.group(1));
            }
        }
        assertEquals(List.of(), unpinned, "plugins without a literal version");
        for (String p : List.of("maven-clean-plugin", "maven-resources-plugin", "maven-compiler-plugin",
                "maven-surefire-plugin", "maven-failsafe-plugin", "maven-jar-plugin", "maven-source-plugin",
                "maven-javadoc-plugin", "maven-install-plugin", "maven-deploy-plugin", "maven-site-plugin",
                "maven-dependency-plugin")) {
            assertTrue(seen.contains(p), p + " not pinned in pom.xml");
        }
        assertFalse(pom.contains("chronicle"), "chronicle is no longer a dependency");
    }
}
