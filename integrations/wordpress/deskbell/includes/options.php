<?php
/**
 * The plugin's settings: one option array, its defaults, allowlists and sanitizing.
 *
 * @package Deskbell
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const DESKBELL_OPTION    = 'deskbell_settings';
const DESKBELL_POSITIONS = array( 'right', 'left' );
// '' lets the widget follow the page's own language (the lang attribute WordPress prints).
const DESKBELL_LOCALES = array( '', 'en', 'es', 'de', 'fr', 'ar' );
const DESKBELL_MODES   = array( 'self-service', 'neutral', 'ask-first' );
const DESKBELL_SCOPES  = array( 'all', 'types' );

/**
 * Settings as stored when nothing was saved yet.
 *
 * @return array<string, mixed>
 */
function deskbell_defaults() {
	return array(
		'server_url' => '',
		'site'       => 'default',
		'color'      => '#1d4ed8',
		'position'   => 'right',
		'label'      => '',
		'locale'     => '',
		'mode'       => 'self-service',
		'scope'      => 'all',
		'post_types' => array(),
		'identify'   => false,
		'identity_secret' => '',
	);
}

/**
 * The saved settings merged over the defaults, so every key is always present.
 *
 * @return array<string, mixed>
 */
function deskbell_settings() {
	$saved = get_option( DESKBELL_OPTION, array() );
	return array_merge( deskbell_defaults(), is_array( $saved ) ? $saved : array() );
}

/**
 * The Deskbell server's base URL without a trailing slash, or '' when not configured.
 *
 * @return string
 */
function deskbell_server_url() {
	return untrailingslashit( (string) deskbell_settings()['server_url'] );
}

/**
 * Only http(s) URLs are accepted; anything else (javascript:, data:, garbage) is refused.
 *
 * @param mixed $value Submitted URL.
 * @return string|null The clean URL, '' for empty, null when refused.
 */
function deskbell_clean_server_url( $value ) {
	$value = trim( (string) $value );
	if ( '' === $value ) {
		return '';
	}
	$clean = esc_url_raw( $value, array( 'http', 'https' ) );
	$parts = '' === $clean ? false : wp_parse_url( $clean );
	if ( ! is_array( $parts ) || empty( $parts['host'] ) || isset( $parts['query'] ) || isset( $parts['fragment'] ) ) {
		return null;
	}
	return untrailingslashit( $clean );
}

/**
 * Pick $value when it is one of $allowed, else $fallback.
 *
 * @param mixed         $value    Submitted value.
 * @param array<string> $allowed  Allowed values.
 * @param string        $fallback Value kept when $value is not allowed.
 * @return string
 */
function deskbell_pick( $value, $allowed, $fallback ) {
	return in_array( (string) $value, $allowed, true ) ? (string) $value : $fallback;
}

/**
 * Sanitize callback of register_setting: every field checked; a refused value keeps the
 * previous one and explains why, so a typo never wipes a working setup.
 *
 * @param mixed $input Submitted settings.
 * @return array<string, mixed>
 */
function deskbell_sanitize_settings( $input ) {
	$old   = deskbell_settings();
	$input = is_array( $input ) ? wp_unslash( $input ) : array();
	$out   = $old;

	$url = deskbell_clean_server_url( $input['server_url'] ?? '' );
	if ( null === $url ) {
		add_settings_error( DESKBELL_OPTION, 'server_url', __( 'The server URL must start with http:// or https://. The previous URL was kept.', 'deskbell' ) );
	} else {
		$out['server_url'] = $url;
	}

	$site        = preg_replace( '/[^A-Za-z0-9_-]/', '', (string) ( $input['site'] ?? '' ) );
	$out['site'] = '' === $site ? 'default' : substr( $site, 0, 64 );

	$color = sanitize_hex_color( (string) ( $input['color'] ?? '' ) );
	if ( null === $color || '' === $color ) {
		add_settings_error( DESKBELL_OPTION, 'color', __( 'The colour must be a hex colour such as #1d4ed8. The previous colour was kept.', 'deskbell' ) );
	} else {
		$out['color'] = strtolower( $color );
	}

	$out['position'] = deskbell_pick( $input['position'] ?? '', DESKBELL_POSITIONS, 'right' );
	$out['locale']   = deskbell_pick( $input['locale'] ?? '', DESKBELL_LOCALES, '' );
	$out['mode']     = deskbell_pick( $input['mode'] ?? '', DESKBELL_MODES, 'self-service' );
	$out['scope']    = deskbell_pick( $input['scope'] ?? '', DESKBELL_SCOPES, 'all' );
	// The widget shows at most 40 characters on its button.
	$out['label']    = mb_substr( sanitize_text_field( (string) ( $input['label'] ?? '' ) ), 0, 40 );
	$out['identify'] = ! empty( $input['identify'] );
	// The secret is never shown again: empty keeps the saved one, '-' removes it.
	$secret = trim( (string) ( $input['identity_secret'] ?? '' ) );
	if ( '-' === $secret ) {
		$out['identity_secret'] = '';
	} elseif ( '' !== $secret ) {
		if ( preg_match( '/^[\x21-\x7e]{16,256}$/', $secret ) ) {
			$out['identity_secret'] = $secret;
		} else {
			add_settings_error( DESKBELL_OPTION, 'identity_secret', __( 'The identity secret must be 16 to 256 visible ASCII characters, as deskbell identity prints it. The previous secret was kept.', 'deskbell' ) );
		}
	}

	$types             = isset( $input['post_types'] ) && is_array( $input['post_types'] ) ? $input['post_types'] : array();
	$public            = wp_list_pluck( deskbell_post_types(), 'name' );
	$out['post_types'] = array_values( array_intersect( array_map( 'sanitize_key', $types ), $public ) );
	return $out;
}

/**
 * Post types the widget can be limited to: public ones with pages of their own
 * (attachments are left out: media pages are rarely where help is wanted).
 *
 * @return array<string, WP_Post_Type>
 */
function deskbell_post_types() {
	$types = get_post_types( array( 'public' => true ), 'objects' );
	unset( $types['attachment'] );
	return $types;
}

/**
 * Declare the option to WordPress (also for the REST API settings endpoint it is not shown).
 */
function deskbell_register_setting() {
	register_setting(
		'deskbell',
		DESKBELL_OPTION,
		array(
			'type'              => 'object',
			'sanitize_callback' => 'deskbell_sanitize_settings',
			'default'           => deskbell_defaults(),
			'show_in_rest'      => false,
		)
	);
}
add_action( 'admin_init', 'deskbell_register_setting' );
