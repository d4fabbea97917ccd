// Ready: a JVM that prints "ready" and keeps its JIT busy, for test_jit.
public class Ready {
	public static void main(String[] args) throws Exception {
		System.out.println("ready");
		System.out.flush();
		long s = 0;
		for (;;) {
			for (int i = 0; i < 1000000; i++)
				s += (long) i * 31;
			if (s == 42)
				System.out.println(s);
			Thread.sleep(10);
		}
	}
}
