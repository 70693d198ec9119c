// The load profile's schema lives with the other schemas; kept here for the load command's imports.
export { loadProfileSchema, type LoadProfile, type LoadProfileInput } from '../schema/load.js';
