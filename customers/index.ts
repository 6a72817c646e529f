export * from "./tiers";
export * from "./naming";
export * from "./schema";
export * from "./roster";
export * from "./status";
