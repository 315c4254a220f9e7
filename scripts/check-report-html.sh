#!/usr/bin/env bash
# Renders DIR/report.html in headless Chromium and checks the screenshot is not trivial
# (readable PNG of the requested size, enough non-white pixels, enough distinct colours, and
# saturated pixels from the embedded charts). Usage:
#   scripts/check-report-html.sh DIR [OUT.png]     (default OUT: DIR/report-screenshot.png)
# Installs Debian's chromium if /usr/bin/chromium is missing. Exit 0 = ok, 1 = check failed.
set -euo pipefail

dir=${1:?usage: $0 DIR [OUT.png]}
html=$(realpath "$dir/report.html")
out=$(realpath -m "${2:-$dir/report-screenshot.png}")
[ -f "$html" ] || { echo "no report.html in $dir (run: ./lora report $dir)" >&2; exit 1; }

chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then
  echo "installing chromium (apt-get)" >&2
  apt-get install -y chromium >/dev/null
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
"$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
  --screenshot="$out" --window-size=1400,2000 "file://$html" >/dev/null 2>&1 || true
[ -s "$out" ] || { echo "FAIL: chromium wrote no screenshot to $out" >&2; exit 1; }

# Image statistics with the JDK alone (single-file source launch, no extra packages).
checker=$(mktemp -d)/CheckShot.java
cat > "$checker" <<'JAVA'
import java.awt.image.BufferedImage;
import java.io.File;
import java.util.HashSet;
import java.util.Set;
import javax.imageio.ImageIO;

public class CheckShot {
  public static void main(String[] a) throws Exception {
    BufferedImage img = ImageIO.read(new File(a[0]));
    if (img == null) { System.out.println("FAIL: not a readable image"); System.exit(1); }
    long total = 0, nonWhite = 0, saturated = 0;
    Set<Integer> colours = new HashSet<>();
    for (int y = 0; y < img.getHeight(); y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        int p = img.getRGB(x, y) & 0xffffff;
        int r = p >> 16 & 255, g = p >> 8 & 255, b = p & 255;
        total++;
        colours.add(p);
        if (r < 240 || g < 240 || b < 240) nonWhite++;
        int max = Math.max(r, Math.max(g, b)), min = Math.min(r, Math.min(g, b));
        if (max > 60 && (max - min) > 0.4 * max) saturated++;
      }
    }
    double nw = 100.0 * nonWhite / total, sat = 100.0 * saturated / total;
    System.out.printf("screenshot %dx%d: %.2f%% non-white, %.3f%% saturated, %d colours%n",
        img.getWidth(), img.getHeight(), nw, sat, colours.size());
    boolean ok = img.getWidth() >= 1000 && nw >= 2.0 && colours.size() >= 50 && saturated >= 500;
    System.out.println(ok ? "OK" : "FAIL: screenshot looks trivial (blank page or no charts)");
    System.exit(ok ? 0 : 1);
  }
}
JAVA
java -Djava.awt.headless=true "$checker" "$out"
echo "screenshot: $out"
