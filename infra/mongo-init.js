// One MongoDB user per service, with readWrite on its own database and nothing else (no other
// database, no administration). Run by the mongo image (docker-compose) once, when the data
// volume is new, right after it created the root user. The user lives in the service's own
// database, so the service's URI says authSource=<its database>.
//
// Environment (the mongo container's): MONGO_<SERVICE>_PASSWORD (required) and
// <SERVICE>_MONGODB_DATABASE (eci_<service>), for registry, projects and notifications. The user
// is named after the service.

for (const service of ["registry", "projects", "notifications"]) {
  const upper = service.toUpperCase();
  const database = process.env[`${upper}_MONGODB_DATABASE`] || `eci_${service}`;
  const password = process.env[`MONGO_${upper}_PASSWORD`];
  if (!password) {
    throw new Error(`MONGO_${upper}_PASSWORD is not set: the password of MongoDB user ${service}`);
  }
  db.getSiblingDB(database).createUser({
    user: service,
    pwd: password,
    roles: [{ role: "readWrite", db: database }],
  });
  print(`user ${service}: readWrite on ${database}`);
}
