<?php
/**
 * Puts the widget on public pages: enqueues <server>/widget.js (async) with its data-*
 * options, and queues identify() for logged-in users when the owner turned that on (signed
 * on this server when an identity secret is saved).
 *
 * @package Deskbell
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const DESKBELL_HANDLE = 'deskbell';

/**
 * Whether the owner's scope setting puts the widget on the current request.
 *
 * @param array<string, mixed> $settings Plugin settings.
 * @return bool
 */
function deskbell_wanted_here( $settings ) {
	if ( 'all' === $settings['scope'] ) {
		return true;
	}
	return ! empty( $settings['post_types'] ) && is_singular( $settings['post_types'] );
}

/**
 * Enqueue the loader. WordPress 6.3+ prints `async` itself from the strategy; older
 * versions get it from deskbell_script_tag().
 */
function deskbell_enqueue_loader() {
	$settings = deskbell_settings();
	$server   = deskbell_server_url();
	if ( '' === $server || ! deskbell_wanted_here( $settings ) ) {
		return;
	}
	$args = deskbell_supports_strategy() ? array(
		'strategy'  => 'async',
		'in_footer' => true,
	) : true;
	// No ?ver= query: the Deskbell server versions its own assets.
	wp_enqueue_script( DESKBELL_HANDLE, $server . '/widget.js', array(), null, $args ); // phpcs:ignore WordPress.WP.EnqueuedResourceParameters.MissingVersion
	if ( $settings['identify'] && is_user_logged_in() ) {
		wp_add_inline_script( DESKBELL_HANDLE, deskbell_identify_script( wp_get_current_user() ), 'before' );
	}
}
add_action( 'wp_enqueue_scripts', 'deskbell_enqueue_loader' );

/**
 * Script loading strategies (async/defer in wp_enqueue_script) arrived in WordPress 6.3.
 *
 * @return bool
 */
function deskbell_supports_strategy() {
	return version_compare( get_bloginfo( 'version' ), '6.3-alpha', '>=' );
}

/**
 * The user id Deskbell knows this user by: the WordPress id qualified by the site's host (and
 * port), so two sites sharing one Deskbell server never share a user "1".
 *
 * @param WP_User $user The logged-in user.
 * @return string
 */
function deskbell_user_id( $user ) {
	$home = wp_parse_url( home_url() );
	$port = isset( $home['port'] ) ? ':' . $home['port'] : '';
	return 'wp-' . $user->ID . '@' . ( $home['host'] ?? '' ) . $port;
}

/**
 * The queue stub plus identify({name, email}), signed on this server when an identity secret
 * is saved: user_id and signature = HMAC-SHA256(secret, user_id). JSON is encoded so no value
 * can end the script; the secret itself is never printed.
 *
 * @param WP_User $user The logged-in user.
 * @return string
 */
function deskbell_identify_script( $user ) {
	// WordPress stores display names HTML-encoded ("O&amp;Brien"); the widget wants text.
	$name   = html_entity_decode( $user->display_name, ENT_QUOTES | ENT_HTML5, 'UTF-8' );
	$claim  = array(
		'name'  => $name,
		'email' => $user->user_email,
	);
	$secret = (string) deskbell_settings()['identity_secret'];
	if ( '' !== $secret ) {
		$claim['user_id']   = deskbell_user_id( $user );
		$claim['signature'] = hash_hmac( 'sha256', $claim['user_id'], $secret );
	}
	$who = wp_json_encode( $claim, JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT );
	return 'window.Deskbell = window.Deskbell || function(){(Deskbell.q = Deskbell.q || []).push(arguments)};'
		. "\nDeskbell('identify', " . $who . ');';
}

/**
 * The data-* options of the loader tag, escaped; empty options are left to the widget.
 *
 * @param array<string, mixed> $settings Plugin settings.
 * @return string
 */
function deskbell_data_attributes( $settings ) {
	$data = array(
		'site'     => $settings['site'],
		'color'    => $settings['color'],
		'position' => $settings['position'],
		'label'    => $settings['label'],
		'locale'   => $settings['locale'],
		'mode'     => $settings['mode'],
	);
	$html = '';
	foreach ( $data as $name => $value ) {
		if ( '' !== (string) $value ) {
			$html .= ' data-' . $name . '="' . esc_attr( (string) $value ) . '"';
		}
	}
	return $html;
}

/**
 * Add the data-* options (and `async` before 6.3) to the loader's own <script src> tag;
 * the tag may also hold the inline identify script, which is left untouched.
 *
 * @param string $tag    The script HTML WordPress built.
 * @param string $handle Script handle.
 * @return string
 */
function deskbell_script_tag( $tag, $handle ) {
	if ( DESKBELL_HANDLE !== $handle ) {
		return $tag;
	}
	$extra = deskbell_data_attributes( deskbell_settings() );
	if ( ! deskbell_supports_strategy() ) {
		$extra = ' async' . $extra;
	}
	// A callback, not a replacement string: a label such as "$0" must stay literal.
	return (string) preg_replace_callback(
		'/<script\b(?=[^>]*\ssrc=)/',
		function () use ( $extra ) {
			return '<script' . $extra;
		},
		$tag,
		1
	);
}
add_filter( 'script_loader_tag', 'deskbell_script_tag', 10, 2 );
