export async function measureHelp() {
  return "the round trip of `help` needs the live-response page";
}
