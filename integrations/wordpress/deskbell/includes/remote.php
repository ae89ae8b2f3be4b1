<?php
/**
 * Server-side calls to the Deskbell JSON API (search and articles), with article caching.
 *
 * @package Deskbell
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const DESKBELL_ARTICLE_TTL = 10 * MINUTE_IN_SECONDS;
// A failed fetch is remembered briefly so a down server is not asked on every page view.
const DESKBELL_FAILURE_TTL = MINUTE_IN_SECONDS;

/**
 * GET a path under <server>/api/v1 and decode the JSON answer.
 *
 * @param string               $path  Path after /api/v1, already URL-encoded.
 * @param array<string, mixed> $query Query arguments.
 * @return array<string, mixed>|WP_Error
 */
function deskbell_api_get( $path, $query = array() ) {
	$server = deskbell_server_url();
	if ( '' === $server ) {
		return new WP_Error( 'deskbell_not_configured', __( 'No Deskbell server URL is set (Settings → Deskbell).', 'deskbell' ) );
	}
	$url      = add_query_arg( array_map( 'rawurlencode', $query ), $server . '/api/v1' . $path );
	$response = wp_remote_get(
		$url,
		array(
			'timeout' => 5,
			'headers' => array( 'Accept' => 'application/json' ),
		)
	);
	if ( is_wp_error( $response ) ) {
		return $response;
	}
	$status = (int) wp_remote_retrieve_response_code( $response );
	$body   = json_decode( wp_remote_retrieve_body( $response ), true );
	if ( 200 !== $status || ! is_array( $body ) ) {
		$message = is_array( $body ) && isset( $body['error']['message'] ) ? (string) $body['error']['message'] : '';
		/* translators: 1: HTTP status code, 2: the server's explanation. */
		return new WP_Error( 'deskbell_http', sprintf( __( 'Deskbell answered HTTP %1$d. %2$s', 'deskbell' ), $status, $message ), array( 'status' => $status ) );
	}
	return $body;
}

/**
 * Article slugs are paths of letters, digits, '-', '_' and '/' (e.g. billing/refunds).
 *
 * @param string $slug Slug as written in the shortcode.
 * @return bool
 */
function deskbell_valid_slug( $slug ) {
	return (bool) preg_match( '#^[A-Za-z0-9][A-Za-z0-9_/-]{0,199}$#', $slug ) && false === strpos( $slug, '//' );
}

/**
 * One article from the server, cached in a transient for ten minutes.
 *
 * @param string $slug Article slug.
 * @return array<string, mixed>|WP_Error
 */
function deskbell_get_article( $slug ) {
	if ( ! deskbell_valid_slug( $slug ) ) {
		return new WP_Error( 'deskbell_slug', __( 'That is not a valid article slug.', 'deskbell' ) );
	}
	$key    = 'deskbell_article_' . md5( deskbell_server_url() . '|' . $slug );
	$cached = get_transient( $key );
	if ( is_array( $cached ) ) {
		return isset( $cached['error'] ) ? new WP_Error( 'deskbell_cached', $cached['error'] ) : $cached;
	}
	$path    = '/articles/' . implode( '/', array_map( 'rawurlencode', explode( '/', $slug ) ) );
	$article = deskbell_api_get( $path );
	if ( is_wp_error( $article ) ) {
		set_transient( $key, array( 'error' => $article->get_error_message() ), DESKBELL_FAILURE_TTL );
		return $article;
	}
	set_transient( $key, $article, DESKBELL_ARTICLE_TTL );
	return $article;
}

/**
 * An absolute URL on the Deskbell server for a server-relative one such as /kb/billing/refunds.
 *
 * @param string $url URL from the API.
 * @return string
 */
function deskbell_absolute( $url ) {
	$url = (string) $url;
	return 0 === strpos( $url, '/' ) && 0 !== strpos( $url, '//' ) ? deskbell_server_url() . $url : $url;
}
