export * from "../core/tiers";
export * from "../core/naming";
export * from "./schema";
export * from "./roster";
export * from "./status";
