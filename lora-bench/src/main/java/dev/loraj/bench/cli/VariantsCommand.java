package dev.loraj.bench.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraj.core.adapter.AdapterFactory;
import dev.loraj.core.adapter.AdapterRegistry;
import dev.loraj.core.adapter.ConfigCodec;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Lists every registered adapter factory (including ones from extra jars on the class path). */
@Command(name = "variants", mixinStandardHelpOptions = true,
    description = "List the registered variants with their config fields and defaults.")
final class VariantsCommand implements Callable<Integer> {

  @Option(names = "--json", description = "Print JSON instead of a table.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    AdapterRegistry registry = AdapterRegistry.discover();
    ConfigCodec codec = new ConfigCodec(registry);
    if (json) {
      ObjectNode root = codec.jsonMapper().createObjectNode();
      for (AdapterFactory<?> f : registry.factories()) {
        ObjectNode n = root.putObject(f.name());
        n.put("description", f.description());
        n.put("class", f.getClass().getName());
        n.set("defaults", codec.toTree(f.defaultConfig()));
      }
      System.out.println(codec.jsonMapper().writerWithDefaultPrettyPrinter().writeValueAsString(root));
      return 0;
    }
    System.out.println(registry.factories().size() + " registered variants:\n");
    for (AdapterFactory<?> f : registry.factories()) {
      System.out.println(f.name() + "  (" + f.getClass().getName() + ")");
      System.out.println("    " + f.description());
      ObjectNode defaults = codec.toTree(f.defaultConfig());
      for (Iterator<Map.Entry<String, JsonNode>> it = defaults.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!e.getKey().equals("type")) {
          System.out.printf("    %-22s %s%n", e.getKey(), e.getValue());
        }
      }
      System.out.println();
    }
    return 0;
  }
}
