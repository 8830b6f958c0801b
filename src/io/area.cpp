// Placeholder translation unit so kinema_io links before its first module lands; remove it then.
namespace kinema::io {}
