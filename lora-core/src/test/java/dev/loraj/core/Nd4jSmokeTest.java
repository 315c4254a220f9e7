package dev.loraj.core;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;
class Nd4jSmokeTest {
  @Test void mmul() {
    var a = Nd4j.rand(4, 4);
    System.out.println(a.mmul(a));
  }
}
