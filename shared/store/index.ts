export * from "./sql.ts";
export { migrate, SCHEMA_VERSION } from "./schema.ts";
