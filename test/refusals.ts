// Refusals while native work runs: calls tried every millisecond during `work`, and the messages of those that threw.
export async function refusalsDuring(attempts: (() => unknown)[], work: () => Promise<unknown>): Promise<{ tried: number; errors: string[] }> {
  const errors: string[] = [];
  let tried = 0;
  const timer = setInterval(() => {
    for (const attempt of attempts) {
      tried++;
      try {
        attempt();
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
  }, 1);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return { tried, errors };
}
