export default async function serve(): Promise<number> { return 0; }
