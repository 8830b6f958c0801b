// Placeholder translation unit so kinema_world links before its first module lands; remove it then.
namespace kinema::world {}
