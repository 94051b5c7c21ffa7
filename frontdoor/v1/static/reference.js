// Scalar API reference over /api/openapi; nothing is fetched from third-party hosts (no fonts, no proxy, no agent).
Scalar.createApiReference('#app', {
  url: '/api/openapi',
  withDefaultFonts: false,
  agent: { disabled: true },
  showDeveloperTools: 'never',
  hideDownloadButton: false,
  authentication: { preferredSecurityScheme: 'apiKeyHeader' },
  metaData: { title: 'VoiceForge API reference' },
});
